"""A private Graphite for the dashboard test and the panel pictures: Debian's
carbon-cache and graphite-web, each with its own configuration, data and
ports in one work directory, on loopback. Nothing under /etc, /var or /usr is
changed, and only the processes started here are stopped (by PID).

Debian 12 packages: graphite-carbon, graphite-web (run with /usr/bin/python3:
another python first on PATH does not see Debian's modules).
"""
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

SYSTEM_PYTHON = "/usr/bin/python3"


def wait_for(check, seconds, what):
    """Polls `check` every 50 ms for at most `seconds`; raises naming `what`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {seconds} s")


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class GraphiteStack:
    """carbon-cache (line receiver on `carbon_port`) and graphite-web (on
    `web_port`). Meant for a network namespace of the caller's own, where the
    fixed ports are free: below any ephemeral range, so a script that
    exhausts that range cannot take them."""

    def __init__(self, work, base_port=20000):
        self.work = work
        self.carbon_dir = os.path.join(work, "carbon")
        self.web_dir = os.path.join(work, "web")
        self.whisper_dir = os.path.join(self.carbon_dir, "storage", "whisper")
        self.carbon_port, self.pickle_port, self.query_port = (base_port + 3, base_port + 4,
                                                                base_port + 5)
        self.web_port = base_port + 80
        self.processes = []

    def _spawn(self, argv, name, env=None):
        log = open(os.path.join(self.work, name + ".log"), "w")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.processes.append(process)
        return process

    def log(self, name):
        with open(os.path.join(self.work, name + ".log")) as f:
            return f.read()

    def start_carbon(self):
        for sub in ("conf", "storage/whisper", "log", "run"):
            os.makedirs(os.path.join(self.carbon_dir, sub), exist_ok=True)
        d = self.carbon_dir
        with open(os.path.join(d, "conf", "carbon.conf"), "w") as f:
            f.write(f"""[cache]
STORAGE_DIR = {d}/storage/
LOCAL_DATA_DIR = {self.whisper_dir}/
WHITELISTS_DIR = {d}/storage/lists/
LOG_DIR = {d}/log/
PID_DIR = {d}/run/
USER =
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {self.carbon_port}
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {self.pickle_port}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {self.query_port}
ENABLE_UDP_LISTENER = False
ENABLE_TAGS = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
""")
        with open(os.path.join(d, "conf", "storage-schemas.conf"), "w") as f:
            f.write("[all]\npattern = .*\nretentions = 1s:1h\n")
        with open(os.path.join(d, "conf", "storage-aggregation.conf"), "w") as f:
            f.write("[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n")
        self.start_carbon_again()

    def start_carbon_again(self):
        """Starts carbon-cache with the configuration start_carbon() wrote."""
        d = self.carbon_dir
        self.carbon = self._spawn([SYSTEM_PYTHON, "/usr/bin/carbon-cache",
                                   f"--config={d}/conf/carbon.conf", "--debug", "start"], "carbon")
        wait_for(lambda: accepts(self.carbon_port), 20, "carbon-cache")

    def kill_carbon(self, sig):
        """Ends carbon-cache with `sig` (SIGTERM: it writes its cache; SIGKILL: it loses it)."""
        self.carbon.send_signal(sig)
        self.carbon.wait(timeout=30)
        pid_file = os.path.join(self.carbon_dir, "run", "carbon-cache-a.pid")
        if os.path.exists(pid_file):
            os.unlink(pid_file)

    def fetch(self, path, since, until):
        """{timestamp: value} of a metric, read from its whisper file."""
        file = os.path.join(self.whisper_dir, *path.split(".")) + ".wsp"
        if not os.path.exists(file):
            return {}
        out = subprocess.run([SYSTEM_PYTHON, "/usr/bin/whisper-fetch", f"--from={since}",
                              f"--until={until}", file], capture_output=True, text=True, check=True)
        points = {}
        for line in out.stdout.splitlines():
            ts, value = line.split()
            if value != "None":
                points[int(ts)] = float(value)
        return points

    def prepare_web(self):
        """Settings module and database; slow (Django migrations), so it can
        run while carbon fills."""
        os.makedirs(os.path.join(self.web_dir, "log"), exist_ok=True)
        w = self.web_dir
        with open(os.path.join(w, "sockpush_graphite_settings.py"), "w") as f:
            f.write(f"""SECRET_KEY = 'sockpush-private-graphite'
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
TIME_ZONE = 'UTC'
STORAGE_DIR = '{w}'
WHISPER_DIR = '{self.whisper_dir}'
STANDARD_DIRS = ['{self.whisper_dir}']
LOG_DIR = '{w}/log'
INDEX_FILE = '{w}/index'
DATABASES = {{'default': {{'ENGINE': 'django.db.backends.sqlite3', 'NAME': '{w}/graphite.db'}}}}
CARBONLINK_HOSTS = ['127.0.0.1:{self.query_port}:a']
""")
        self.web_env = dict(os.environ,
                            PYTHONPATH=w,
                            GRAPHITE_SETTINGS_MODULE="sockpush_graphite_settings",
                            DJANGO_SETTINGS_MODULE="graphite.settings")
        return self._spawn([SYSTEM_PYTHON, "-m", "django", "migrate", "--noinput"], "web-migrate",
                           self.web_env)

    def start_web(self, migrate):
        if migrate.wait(timeout=120) != 0:
            raise RuntimeError("graphite-web migrate failed:\n" + self.log("web-migrate"))
        self._spawn([SYSTEM_PYTHON, "-m", "django", "runserver", "--noreload",
                     f"127.0.0.1:{self.web_port}"], "web", self.web_env)
        wait_for(lambda: self.get("/version")[0] == 200, 30, "graphite-web")

    def get(self, path, **query):
        """(status, body bytes) of a GET to graphite-web."""
        url = f"http://127.0.0.1:{self.web_port}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError as e:
            return 0, str(e).encode()

    def render_json(self, target, since="-10min"):
        status, body = self.get("/render", target=target, format="json", **{"from": since})
        return status, (json.loads(body) if status == 200 else body.decode(errors="replace"))

    def find(self, query):
        status, body = self.get("/metrics/find", query=query)
        return status, (json.loads(body) if status == 200 else body.decode(errors="replace"))

    def stop(self):
        """Newest first, each waited for: sockpush delivers to a carbon still up."""
        for p in reversed(self.processes):
            if p.poll() is None:
                p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
