// End to end with Debian's real carbon-cache on a private port and data dir:
// what sockpush sends is read back from whisper files with whisper-fetch.
#include <doctest/doctest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <vector>

#include "support/process.hpp"

using namespace std::chrono_literals;

namespace {

unsigned port_from(unsigned base) {
  return base + static_cast<unsigned>(getpid() % 500) * 3;
}

/// carbon-cache with its own config, storage and ports, stopped with SIGTERM.
class carbon_cache {
 public:
  explicit carbon_cache(const test::temp_dir& dir) : root_(dir / "carbon") {
    for (auto sub : {"conf", "storage/whisper", "log", "run"})
      std::filesystem::create_directories(root_ + "/" + sub);
    line_port_ = port_from(32003);
    std::ostringstream conf;
    conf << "[cache]\n"
         << "STORAGE_DIR = " << root_ << "/storage/\n"
         << "LOCAL_DATA_DIR = " << root_ << "/storage/whisper/\n"
         << "WHITELISTS_DIR = " << root_ << "/storage/lists/\n"
         << "LOG_DIR = " << root_ << "/log/\n"
         << "PID_DIR = " << root_ << "/run/\n"
         << "USER =\n"
         << "LINE_RECEIVER_INTERFACE = 127.0.0.1\n"
         << "LINE_RECEIVER_PORT = " << line_port_ << "\n"
         << "PICKLE_RECEIVER_INTERFACE = 127.0.0.1\n"
         << "PICKLE_RECEIVER_PORT = " << line_port_ + 1 << "\n"
         << "CACHE_QUERY_INTERFACE = 127.0.0.1\n"
         << "CACHE_QUERY_PORT = " << line_port_ + 2 << "\n"
         << "ENABLE_UDP_LISTENER = False\n"
         << "ENABLE_TAGS = False\n"
         << "MAX_CACHE_SIZE = inf\n"
         << "MAX_UPDATES_PER_SECOND = inf\n"
         << "MAX_CREATES_PER_MINUTE = inf\n";
    test::write_file(root_ + "/conf/carbon.conf", conf.str());
    test::write_file(root_ + "/conf/storage-schemas.conf",
                     "[all]\npattern = .*\nretentions = 1s:1h\n");
    test::write_file(root_ + "/conf/storage-aggregation.conf",
                     "[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n");
    start();
  }
  /// Starts carbon-cache and waits until its line receiver listens.
  void start() {
    process_ = std::make_unique<test::child>(
        std::vector<std::string>{"carbon-cache", "--config=" + root_ + "/conf/carbon.conf",
                                 "--debug", "start"},
        root_ + "/log/stdout", root_ + "/log/stderr");
    bool listening = test::wait_until(
        [&] {
          return test::run_capture("ss -ltn 'sport = :" + std::to_string(line_port_) + "'")
                     .find("LISTEN") != std::string::npos;
        },
        15000ms);
    REQUIRE_MESSAGE(listening,
                    "carbon-cache did not start: " << test::read_file(root_ + "/log/stderr"));
  }
  ~carbon_cache() {
    process_->signal(SIGTERM);
    process_->wait(10000ms);
  }
  /// SIGKILL: what it had received but not yet written to whisper is gone.
  void kill() {
    process_->signal(SIGKILL);
    process_->wait(10000ms);
    std::filesystem::remove(root_ + "/run/carbon-cache-a.pid");
  }
  unsigned line_port() const { return line_port_; }

  /// (timestamp, value) points of a metric; empty if its file is not there yet.
  std::map<long long, double> fetch(const std::string& path, long long from, long long until) {
    std::string file = root_ + "/storage/whisper/";
    for (char c : path) file += c == '.' ? '/' : c;
    file += ".wsp";
    std::map<long long, double> points;
    if (!std::filesystem::exists(file)) return points;
    auto out =
        test::run_capture("/usr/bin/python3 /usr/bin/whisper-fetch --from=" + std::to_string(from) +
                          " --until=" + std::to_string(until) + " " + file);
    for (const auto& line : test::split_lines(out)) {
      std::istringstream in(line);
      long long ts = 0;
      std::string value;
      if (in >> ts >> value && value != "None") points[ts] = std::stod(value);
    }
    return points;
  }

 private:
  std::string root_;
  unsigned line_port_ = 0;
  std::unique_ptr<test::child> process_;
};

}  // namespace

TEST_CASE("end to end: rounds pushed to a real carbon-cache are stored in whisper") {
  test::temp_dir dir;
  carbon_cache carbon(dir);
  const long long start = time(nullptr);
  // No per-destination lines: every round has the same size.
  test::write_file(dir / "sockpush.toml",
                   "[collectors]\nephemeral_top = 0\nconntrack_top_ports = 0\n");
  test::child daemon({SOCKPUSH_BINARY, "-c", dir / "sockpush.toml", "--carbon",
                      "127.0.0.1:" + std::to_string(carbon.line_port()), "--interval", "1",
                      "--prefix", "e2e.{host}"},
                     {}, dir / "log");
  test::sleep_ms(4500);
  daemon.signal(SIGTERM);
  REQUIRE(daemon.wait(10000ms) == 0);
  const long long end = time(nullptr) + 1;

  std::string host = test::run_capture("hostname -s");
  host = host.substr(0, host.find('\n'));
  for (char& c : host)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  const auto prefix = "e2e." + host;

  std::map<long long, double> sent, listen;
  // carbon writes points ~1 s after they arrive.
  test::wait_until(
      [&] {
        sent = carbon.fetch(prefix + ".sockpush.sent_lines", start - 1, end);
        listen = carbon.fetch(prefix + ".tcp.states.listen", start - 1, end);
        return sent.size() >= 4 && listen.size() >= 4;
      },
      15000ms);
  MESSAGE("points read back: sent_lines=" << sent.size() << " listen=" << listen.size());
  REQUIRE(sent.size() >= 4);
  // One point per second, and round k reports k rounds of lines sent.
  const double round_lines = std::next(sent.begin())->second;
  CHECK(round_lines >= 15.0);
  long long k = 0;
  long long previous = sent.begin()->first - 1;
  for (const auto& [ts, value] : sent) {
    CHECK(ts == previous + 1);
    CHECK(value == doctest::Approx(round_lines * static_cast<double>(k)));
    previous = ts;
    ++k;
  }
  // carbon-cache itself listens on three ports, so at least 3 listeners.
  for (const auto& [ts, value] : listen) CHECK(value >= 3.0);
}

TEST_CASE("end to end: carbon-cache killed with SIGKILL 3 times, every round is stored (replay)") {
  test::temp_dir dir;
  carbon_cache carbon(dir);
  // replay_seconds re-sends what carbon's kernel acknowledged but carbon
  // itself never wrote: a SIGKILLed carbon-cache loses its cache and its
  // socket's receive queue.
  test::write_file(dir / "sockpush.toml",
                   "[carbon]\nreplay_seconds = 10\nreconnect_min = 0.2\nreconnect_max = 1\n"
                   "[collectors]\nephemeral_top = 0\nconntrack_top_ports = 0\n");
  const long long start = time(nullptr);
  test::child daemon(
      {SOCKPUSH_BINARY, "-c", dir / "sockpush.toml", "--carbon",
       "127.0.0.1:" + std::to_string(carbon.line_port()), "--interval", "1", "--prefix", "faults"},
      {}, dir / "log");
  for (int kill = 0; kill < 3; ++kill) {
    test::sleep_ms(6000);
    carbon.kill();
    test::sleep_ms(1500);
    carbon.start();
  }
  test::sleep_ms(6000);
  daemon.signal(SIGTERM);
  REQUIRE(daemon.wait(15000ms) == 0);
  const long long end = time(nullptr);

  std::map<long long, double> listen;
  test::wait_until(
      [&] {
        listen = carbon.fetch("faults.tcp.states.listen", start - 1, end + 1);
        return !listen.empty() && listen.rbegin()->first >= end - 2;
      },
      15000ms);
  REQUIRE(listen.size() >= 2);
  std::vector<long long> missing;
  for (long long ts = listen.begin()->first; ts <= listen.rbegin()->first; ++ts)
    if (!listen.count(ts)) missing.push_back(ts);
  auto log = test::read_file(dir / "log");
  std::size_t replays = 0;
  for (std::size_t at = log.find("re-sending"); at != std::string::npos;
       at = log.find("re-sending", at + 1))
    ++replays;
  MESSAGE("points " << listen.begin()->first << ".." << listen.rbegin()->first << ": "
                    << listen.size() << " stored, " << missing.size() << " missing; " << replays
                    << " replays");
  CHECK(missing.empty());
  CHECK(listen.size() >= 20);
  CHECK(replays >= 3);
}
