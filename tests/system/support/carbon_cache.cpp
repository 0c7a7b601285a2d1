#include "support/carbon_cache.hpp"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

using namespace std::chrono_literals;

namespace test {
namespace {

/// Whether a listener could bind `host`:`port` now (as carbon's does, with
/// SO_REUSEADDR, so TIME_WAIT leftovers do not count).
bool port_free(const std::string& host, unsigned port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  auto address = ipv4(host.c_str(), static_cast<std::uint16_t>(port));
  const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return free;
}

}  // namespace

carbon_cache::carbon_cache(const temp_dir& dir, const std::string& name, unsigned port_block,
                           const std::string& host)
    : root_(dir / name), whisper_dir_(root_ + "/storage/whisper"), host_(host) {
  for (auto sub : {"conf", "storage/whisper", "log", "run"})
    std::filesystem::create_directories(root_ + "/" + sub);
  // Three ports per instance, spread by PID, and passed over while another
  // test (ctest -j) holds one of them.
  const unsigned first = 32003 + port_block * 1600;
  unsigned slot = static_cast<unsigned>(getpid() % 500);
  for (int tries = 0; tries < 500; ++tries, slot = (slot + 1) % 500) {
    line_port_ = first + slot * 3;
    if (port_free(host, line_port_) && port_free(host, line_port_ + 1) &&
        port_free(host, line_port_ + 2))
      break;
  }
  std::ostringstream conf;
  conf << "[cache]\n"
       << "STORAGE_DIR = " << root_ << "/storage/\n"
       << "LOCAL_DATA_DIR = " << whisper_dir_ << "/\n"
       << "WHITELISTS_DIR = " << root_ << "/storage/lists/\n"
       << "LOG_DIR = " << root_ << "/log/\n"
       << "PID_DIR = " << root_ << "/run/\n"
       << "USER =\n"
       << "LINE_RECEIVER_INTERFACE = " << host << "\n"
       << "LINE_RECEIVER_PORT = " << line_port_ << "\n"
       << "PICKLE_RECEIVER_INTERFACE = " << host << "\n"
       << "PICKLE_RECEIVER_PORT = " << line_port_ + 1 << "\n"
       << "CACHE_QUERY_INTERFACE = " << host << "\n"
       << "CACHE_QUERY_PORT = " << line_port_ + 2 << "\n"
       << "ENABLE_UDP_LISTENER = False\n"
       << "ENABLE_TAGS = False\n"
       << "MAX_CACHE_SIZE = inf\n"
       << "MAX_UPDATES_PER_SECOND = inf\n"
       << "MAX_CREATES_PER_MINUTE = inf\n";
  write_file(root_ + "/conf/carbon.conf", conf.str());
  write_file(root_ + "/conf/storage-schemas.conf", "[all]\npattern = .*\nretentions = 1s:1h\n");
  write_file(root_ + "/conf/storage-aggregation.conf",
             "[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n");
  start();
}

void carbon_cache::start() {
  process_ = std::make_unique<child>(
      std::vector<std::string>{"carbon-cache", "--config=" + root_ + "/conf/carbon.conf", "--debug",
                               "start"},
      root_ + "/log/stdout", root_ + "/log/stderr");
  bool listening = wait_until(
      [&] {
        return run_capture("ss -ltn 'sport = :" + std::to_string(line_port_) + "'")
                   .find("LISTEN") != std::string::npos;
      },
      15000ms);
  REQUIRE_MESSAGE(listening, "carbon-cache did not start: " << read_file(root_ + "/log/stderr"));
}

carbon_cache::~carbon_cache() {
  if (process_) stop();
}

void carbon_cache::stop() {
  process_->signal(SIGTERM);
  process_->wait(10000ms);
  process_.reset();
  std::filesystem::remove(root_ + "/run/carbon-cache-a.pid");
}

void carbon_cache::kill() {
  process_->signal(SIGKILL);
  process_->wait(10000ms);
  process_.reset();
  std::filesystem::remove(root_ + "/run/carbon-cache-a.pid");
}

std::map<long long, double> carbon_cache::fetch(const std::string& path, long long from,
                                                long long until) {
  std::string file = whisper_dir_ + "/";
  for (char c : path) file += c == '.' ? '/' : c;
  file += ".wsp";
  std::map<long long, double> points;
  if (!std::filesystem::exists(file)) return points;
  auto out = run_capture("/usr/bin/python3 /usr/bin/whisper-fetch --from=" + std::to_string(from) +
                         " --until=" + std::to_string(until) + " " + file);
  for (const auto& line : split_lines(out)) {
    std::istringstream in(line);
    long long ts = 0;
    std::string value;
    if (in >> ts >> value && value != "None") points[ts] = std::stod(value);
  }
  return points;
}

std::vector<std::string> carbon_cache::metric_paths() const {
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(whisper_dir_)) {
    if (entry.path().extension() != ".wsp") continue;
    auto relative = std::filesystem::relative(entry.path(), whisper_dir_).replace_extension();
    std::string path = relative.string();
    for (char& c : path)
      if (c == '/') c = '.';
    paths.push_back(std::move(path));
  }
  return paths;
}

run_rounds check_every_round_accounted(const std::map<long long, double>& collected,
                                       long long stopped) {
  REQUIRE(collected.size() >= 2);
  double per_round = 0;
  for (auto it = collected.begin(); std::next(it) != collected.end(); ++it)
    if (std::next(it)->first == it->first + 1) per_round = std::next(it)->second - it->second;
  REQUIRE(per_round >= 15.0);
  const auto [first, at_first] = *collected.begin();
  const auto [last, at_last] = *collected.rbegin();
  CHECK_MESSAGE(at_first == 0.0, "the daemon's first rounds were never stored");
  CHECK_MESSAGE(last >= stopped - 1, "rounds before the SIGTERM at " << stopped << " were lost");
  CHECK_MESSAGE(at_last == doctest::Approx(per_round * static_cast<double>(last - first)),
                "the daemon did not collect a round every second from " << first << " to " << last);
  return {first, last, static_cast<std::size_t>(per_round)};
}

stored_run stop_and_read_back(child& daemon, carbon_cache& carbon, const std::string& prefix,
                              const std::string& also, long long start) {
  stored_run run;
  run.stopped = time(nullptr);
  daemon.signal(SIGTERM);
  REQUIRE(daemon.wait(15000ms) == 0);
  run.end = time(nullptr);
  REQUIRE(wait_until(
      [&] {
        run.collected = carbon.fetch(prefix + ".sockpush.collected_lines", start - 1, run.end + 1);
        run.also = carbon.fetch(prefix + "." + also, start - 1, run.end + 1);
        return !run.collected.empty() && run.collected.rbegin()->first >= run.stopped - 1 &&
               run.also.size() == run.collected.size();
      },
      15000ms));
  return run;
}

std::vector<std::string> carbon_relay_routes(const temp_dir& dir, const std::string& names,
                                             const std::string& destinations,
                                             std::size_t replication, bool diverse_replicas) {
  write_file(dir / "route.py", R"(import sys
sys.path.insert(0, '/usr/lib/python3/dist-packages')
from carbon.routers import ConsistentHashingRouter
from carbon.util import parseDestinations
class Settings:
    REPLICATION_FACTOR = int(sys.argv[3])
    DIVERSE_REPLICAS = sys.argv[4] == '1'
    ROUTER_HASH_TYPE = None
destinations = parseDestinations(sys.argv[2].split(','))
router = ConsistentHashingRouter(Settings())
for d in destinations:
    router.addDestination(d)
nodes = [(server, instance) for server, port, instance in destinations]
for name in open(sys.argv[1], encoding='utf-8').read().split('\n')[:-1]:
    print(' '.join(str(nodes.index((s, i))) for s, port, i in router.getDestinations(name)))
)");
  int rc = 0;
  auto routes = split_lines(
      run_capture("/usr/bin/python3 " + dir / "route.py" + " " + names + " '" + destinations +
                      "' " + std::to_string(replication) + (diverse_replicas ? " 1" : " 0"),
                  &rc));
  REQUIRE_MESSAGE(rc == 0, "carbon's router did not run");
  return routes;
}

}  // namespace test
