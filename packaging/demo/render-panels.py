#!/usr/bin/env python3
"""Pictures of the Grafana dashboard's key panels, drawn by graphite-web's own
renderer (/render?format=png) from a short TIME_WAIT build-up that sockpush
measured and pushed to a real carbon-cache.

Everything runs in a private network namespace made here (loopback only; its
ephemeral port range narrowed to PORTS ports and tcp_tw_reuse off, so the
build-up happens on loopback too):
  - a private carbon-cache and graphite-web (graphite_stack.py);
  - sockpush, one round a second, pushing to that carbon-cache;
  - for LOOP seconds, RATE samples a second sent the `echo ... | nc` way: one
    connection per sample to a line sink on 127.0.0.2, closed by the sender,
    which keeps the socket in TIME_WAIT for 60 s;
  - at the same time, a service on 127.0.0.3 that accepts SLOW_ACCEPTS
    connections a second (backlog SLOW_BACKLOG) gets fewer than that for a
    third of LOOP, then more, then none: its accept queue fills, overflows
    and drains;
  - then WAIT more seconds, for the plateau and the start of the decline.
sockpush counts the sockets per remote subnet: the sink, the slow service,
and the rest of 127.0.0.0/8.
The panels are the dashboard's own targets (packaging/grafana/sockpush.json).

Usage (root; Debian 12 with graphite-carbon and graphite-web installed):
  packaging/demo/render-panels.py [SOCKPUSH] [OUT_DIR]
Defaults: build/release/sockpush, packaging/demo/panels. Takes about 2 minutes.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from graphite_stack import GraphiteStack  # noqa: E402

RATE = int(os.environ.get("RATE", "60"))
LOOP = int(os.environ.get("LOOP", "45"))
WAIT = int(os.environ.get("WAIT", "30"))
PORTS = int(os.environ.get("PORTS", "2000"))
SLOW_ACCEPTS, SLOW_BACKLOG = 20, 32
SINK, SLOW_SERVICE = ("127.0.0.2", 2003), ("127.0.0.3", 2004)
SUBNETS = 'nc_sink = "127.0.0.2/32", slow_service = "127.0.0.3/32", other_loopback = "127.0.0.0/8"'
PREFIX, HOST = "demo.", "router"
PANELS = {
    "TCP sockets per state": "tcp-states.png",
    "TIME_WAIT and the ephemeral port range": "time-wait-vs-range.png",
    "Ephemeral-port pressure per destination (%)": "port-pressure.png",
    "sockpush delivery": "delivery.png",
    "Listen queue fill per port (%)": "listen-queue-fill.png",
    "TCP sockets per remote subnet": "remote-subnets.png",
}


def enter_private_network():
    if os.environ.get("SOCKPUSH_DEMO_NETNS") != "1":
        env = dict(os.environ, SOCKPUSH_DEMO_NETNS="1")
        os.execvpe("unshare", ["unshare", "--net", "--", sys.executable] + sys.argv, env)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["sysctl", "-qw", f"net.ipv4.ip_local_port_range=40000 {40000 + PORTS - 1}"],
                   check=True)
    subprocess.run(["sysctl", "-qw", "net.ipv4.tcp_tw_reuse=0"], check=True)
    for address in ("127.0.0.1", SINK[0], SLOW_SERVICE[0]):
        route = subprocess.run(["ip", "route", "get", address], capture_output=True, text=True)
        if " dev lo " not in route.stdout:
            sys.exit(f"render-panels: {address} is not routed over lo here: {route.stdout}")


def line_sink(server, stop):
    """Accepts and reads the per-sample connections until `stop` is set."""
    server.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except socket.timeout:
            continue
        with conn:
            conn.recv(4096)


def slow_service(server, stop):
    """Accepts SLOW_ACCEPTS connections a second, and closes each at once."""
    while not stop.wait(1 / SLOW_ACCEPTS):
        try:
            conn, _ = server.accept()
            conn.close()
        except BlockingIOError:
            pass


def slow_clients(stop):
    """Connects to the slow service at half its pace for LOOP / 3 s, at twice
    it for LOOP / 3 s, then stops; each client hangs up after 3 s."""
    third = LOOP / 3

    def due(elapsed):  # connects made by `elapsed` seconds in
        return (SLOW_ACCEPTS / 2 * min(elapsed, third) +
                SLOW_ACCEPTS * 2 * max(0.0, min(elapsed, 2 * third) - third))

    start = time.monotonic()
    open_clients = []
    made = 0
    while not stop.is_set() and time.monotonic() - start < LOOP:
        while made < due(time.monotonic() - start):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(SLOW_SERVICE)
            open_clients.append((time.monotonic(), client))
            made += 1
        while open_clients and open_clients[0][0] < time.monotonic() - 3:
            open_clients.pop(0)[1].close()
        time.sleep(0.01)
    for _, client in open_clients:
        client.close()


def nc_loop(port):
    """RATE samples a second for LOOP seconds, one connection each, the
    sender closing first; counts the connect() failures (ports exhausted)."""
    failures = 0
    start = time.monotonic()
    for i in range(RATE * LOOP):
        try:
            with socket.create_connection((SINK[0], port), timeout=2) as s:
                s.sendall(f"demo.nc.value {i} {int(time.time())}\n".encode())
        except OSError:
            failures += 1
        delay = start + (i + 1) / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return failures


def render_png(stack, title, targets, since):
    query = [("target", t) for t in targets] + [
        ("format", "png"), ("from", since), ("width", "900"), ("height", "320"),
        ("title", title), ("fontSize", "11"), ("bgcolor", "white"), ("fgcolor", "black"),
        ("majorGridLineColor", "#cccccc"), ("minorGridLineColor", "#eeeeee"),
        ("lineWidth", "2"), ("yMin", "0"), ("hideLegend", "false")]
    url = "/render?" + urllib.parse.urlencode(query)
    status, body = stack.get(url)
    if status != 200 or not body.startswith(b"\x89PNG"):
        raise RuntimeError(f"render of '{title}' failed: {status} {body[:300]!r}")
    return body


def main():
    sockpush = os.path.abspath(sys.argv[1] if len(sys.argv) > 1
                               else os.path.join(REPO, "build", "release", "sockpush"))
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "panels"))
    if not os.access(sockpush, os.X_OK):
        sys.exit(f"render-panels: no sockpush at {sockpush} (README quick start builds it)")
    dashboard = json.load(open(os.path.join(REPO, "packaging", "grafana", "sockpush.json")))
    enter_private_network()
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="sockpush-panels-")
    stack = GraphiteStack(work)
    stop = threading.Event()
    try:
        stack.start_carbon()
        migrate = stack.prepare_web()
        sink = socket.create_server(SINK, backlog=1024)
        threading.Thread(target=line_sink, args=(sink, stop), daemon=True).start()
        slow = socket.create_server(SLOW_SERVICE, backlog=SLOW_BACKLOG)
        slow.setblocking(False)
        threading.Thread(target=slow_service, args=(slow, stop), daemon=True).start()
        config = os.path.join(work, "sockpush.toml")
        with open(config, "w") as f:
            f.write(f"[collectors]\ntcp_remote_subnets = {{ {SUBNETS} }}\n")
        stack.processes.append(subprocess.Popen(
            [sockpush, "-c", config, "--carbon", f"127.0.0.1:{stack.carbon_port}", "--interval",
             "1", "--prefix", PREFIX + HOST],
            stderr=open(os.path.join(work, "sockpush.log"), "w")))
        started = time.time()
        time.sleep(5)
        print(f"render-panels: {RATE} connections/s for {LOOP} s, {PORTS} ephemeral ports")
        clients = threading.Thread(target=slow_clients, args=(stop,), daemon=True)
        clients.start()
        failures = nc_loop(SINK[1])
        clients.join()
        print(f"render-panels: {failures} of {RATE * LOOP} connects failed; waiting {WAIT} s")
        time.sleep(WAIT)
        stack.start_web(migrate)
        since = f"-{int(time.time() - started) + 5}s"
        for panel in dashboard["panels"]:
            if panel["title"] not in PANELS:
                continue
            targets = [t["target"].replace("$prefix", PREFIX).replace("$host", HOST)
                       for t in panel.get("targets", [])]
            png = render_png(stack, panel["title"], targets, since)
            path = os.path.join(out, PANELS[panel["title"]])
            with open(path, "wb") as f:
                f.write(png)
            print(f"render-panels: {path} ({len(png)} bytes)")
    finally:
        stop.set()
        stack.stop()


if __name__ == "__main__":
    main()
