// The outage queue with real processes, kills and file systems: SIGKILLs in
// an outage, a healthy carbon that must cost no disk I/O, a full and a
// read-only file system, and the pace of a replay. In a private network
// namespace (and, for the mounts, a private mount namespace).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "support/daemon_run.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// Feeds a sockpush TCP listener with unique lines "feed.line <seq> <now>",
/// and remembers when each was accepted by the kernel.
class feeder {
 public:
  explicit feeder(unsigned port, std::size_t line_bytes = 0) : port_(port), pad_(line_bytes, 'x') {}
  ~feeder() { disconnect(); }

  /// Sends `n` lines; false (and nothing counted) if the listener is gone.
  bool send(int n) {
    if (fd_ < 0 && !connect_once()) return false;
    std::string text;
    const auto now = std::time(nullptr);
    for (int i = 0; i < n; ++i)
      text += "feed.line" + pad_ + " " + std::to_string(next_ + static_cast<std::uint64_t>(i)) +
              " " + std::to_string(now) + "\n";
    std::size_t sent = 0;
    while (sent < text.size()) {
      auto r = ::send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (r <= 0) {
        disconnect();
        return false;
      }
      sent += static_cast<std::size_t>(r);
    }
    const auto at = clock_type::now();
    for (int i = 0; i < n; ++i) fed_at_.emplace(next_++, at);
    return true;
  }
  /// Feeds `lines_per_50ms` every 50 ms for `how_long`.
  void feed_for(std::chrono::milliseconds how_long, int lines_per_50ms) {
    const auto end = clock_type::now() + how_long;
    while (clock_type::now() < end) {
      send(lines_per_50ms);
      test::sleep_ms(50);
    }
  }
  void disconnect() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  const std::map<std::uint64_t, clock_type::time_point>& fed() const { return fed_at_; }

 private:
  bool connect_once() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto addr = test::ipv4("127.0.0.1", static_cast<std::uint16_t>(port_));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      disconnect();
      return false;
    }
    return true;
  }

  unsigned port_;
  std::string pad_;
  int fd_ = -1;
  std::uint64_t next_ = 0;
  std::map<std::uint64_t, clock_type::time_point> fed_at_;
};

/// The sequence numbers of the feed lines in Graphite plaintext.
std::set<std::uint64_t> fed_lines_in(const std::string& data) {
  std::set<std::uint64_t> seen;
  std::istringstream in(data);
  std::string path, value;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("feed.line")) continue;
    std::istringstream words(line);
    words >> path >> value;
    seen.insert(std::stoull(value));
  }
  return seen;
}

std::uint64_t files_in(const std::filesystem::path& dir) {
  std::uint64_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

/// Bytes of the files in `dir` now; the daemon may delete one while this
/// looks (a segment dropped or delivered): it counts as gone.
std::uint64_t bytes_in(const std::filesystem::path& dir) {
  std::uint64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::error_code gone;
    const auto size = e.file_size(gone);
    if (!gone && e.is_regular_file(gone)) n += size;
  }
  return n;
}

/// A config with a TCP listener on `listen_port` and the queue in
/// `queue_dir`; `buffer` adds keys to [buffer] (max_bytes is 64 KiB unless set there).
std::string queue_config(const test::daemon_run& run, unsigned listen_port,
                         const std::string& queue_dir, std::string buffer = {}) {
  if (buffer.find("max_bytes = ") == std::string::npos) buffer += "max_bytes = 65536\n";
  return run.config(test::fixed_size_rounds +
                    "[carbon]\nreconnect_min = 0.2\nreconnect_max = 0.5\n"
                    "[buffer]\nspool_sync_seconds = 1\nspool_dir = \"" +
                    queue_dir + "\"\n" + buffer + "[[listen]]\naddress = \"tcp://127.0.0.1:" +
                    std::to_string(listen_port) + "\"\n");
}

/// The value of a self-metric in the round stamped `ts`.
long long at_round(const std::string& data, const std::string& suffix, long long ts) {
  const auto s = test::metric(data, suffix);
  for (std::size_t i = 0; i < s.values.size(); ++i)
    if (s.timestamps[i] == ts) return s.values[i];
  FAIL("no ", suffix, " in the round of ", ts);
  return -1;
}

/// Where every line went, once the queue has drained.
struct tally {
  long long produced, sent, dropped, spool_full, io_error;
  std::size_t at_carbon;  ///< distinct lines the sink holds from before the drained round
};

/// Waits for the first round, after carbon is back, that finds memory and
/// queue empty; stops the daemon; counts. Fails the test on a timeout.
tally tally_after_drain(test::line_sink& sink, test::child& daemon) {
  long long drained = 0;
  const bool done = test::wait_until(
      [&] {
        const auto data = sink.data();
        const auto spooled = test::metric(data, ".sockpush.spool.lines");
        // Rounds arrive out of order while the queue replays: the daemon's
        // first round (queue and memory empty, nothing counted yet) may come
        // back after newer ones. The drained round is newer than the one
        // before it.
        for (std::size_t i = 1; i < spooled.values.size(); ++i)
          if (spooled.values[i] == 0 && spooled.values[i - 1] > 0 &&
              spooled.timestamps[i] > spooled.timestamps[i - 1] &&
              at_round(data, ".sockpush.buffered_lines", spooled.timestamps[i]) == 0) {
            drained = spooled.timestamps[i];
            return true;
          }
        return false;
      },
      30000ms);
  REQUIRE(done);
  test::sleep_ms(1500);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(10000ms) == 0);
  const auto data = sink.data();
  auto self = [&](const std::string& name) { return at_round(data, ".sockpush." + name, drained); };
  std::set<std::string> distinct;
  std::istringstream in(data);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("feed.line") || std::stoll(line.substr(line.rfind(' ') + 1)) < drained)
      distinct.insert(line);
  tally t{};
  t.produced = self("collected_lines") + self("received_lines");
  t.sent = self("sent_lines") - self("replayed_lines");
  t.spool_full = self("dropped_lines.spool_full");
  t.io_error = self("dropped_lines.spool_io_error");
  t.dropped = self("dropped_lines.overflow") + t.spool_full + self("dropped_lines.spool_corrupt") +
              t.io_error;
  t.at_carbon = distinct.size();
  // Every line is sent or counted as dropped, and what was sent is at carbon.
  CHECK(t.sent + t.dropped == t.produced);
  CHECK(static_cast<long long>(t.at_carbon) == t.sent);
  return t;
}

std::unique_ptr<test::child> start_daemon(const std::string& config, unsigned carbon_port,
                                          const std::string& log) {
  return std::make_unique<test::child>(test::daemon_command({.config = config,
                                                             .carbon = test::loopback(carbon_port),
                                                             .interval = "1",
                                                             .prefix = "t"}),
                                       std::string{}, log);
}

/// Waits until the listener accepts.
bool listening(unsigned port) {
  return test::wait_until(
      [&] {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        auto addr = test::ipv4("127.0.0.1", static_cast<std::uint16_t>(port));
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        return ok;
      },
      5000ms);
}

/// What every test here starts from: a private network namespace, a temp
/// dir with the queue's directory in it, and ports for the listener and carbon.
struct outage_setup {
  test::daemon_run run{test::network::private_namespace};
  const std::string queue_dir = run.dir / "queue";
  const unsigned listen_port = test::unused_port();
  const unsigned carbon_port = test::unused_port();
};

/// This process (and the daemons it starts) in a mount namespace of its own,
/// so the test's mounts vanish with it.
void enter_private_mount_namespace() {
  REQUIRE_MESSAGE(::unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): ", std::strerror(errno));
  REQUIRE(::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
}

}  // namespace

TEST_CASE(
    "outage queue: SIGKILL at 20 random points of an outage, every line fed a sync interval before "
    "a kill arrives") {
  outage_setup setup;
  auto& [run, queue_dir, listen_port, carbon_port] = setup;
  const auto cfg = queue_config(run, listen_port, queue_dir);
  feeder feed(listen_port);
  const unsigned seed = 2512;
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> run_ms(600, 2500);
  std::set<std::uint64_t> required;
  for (int kill = 0; kill < 20; ++kill) {
    auto daemon = start_daemon(cfg, carbon_port, run.dir / ("log" + std::to_string(kill)));
    REQUIRE(listening(listen_port));
    if (kill == 0) {
      // The first outage begins on a healthy connection: carbon goes away
      // under a daemon that had nothing to queue.
      test::line_sink carbon(run.dir / "sink-before", carbon_port);
      REQUIRE(test::wait_until(
          [&] { return !test::metric(carbon.data(), ".sockpush.sent_lines").values.empty(); },
          10000ms));
      carbon.kill();
    }
    const auto started_at = clock_type::now();
    feed.feed_for(std::chrono::milliseconds(run_ms(random)), 50);
    const auto killed_at = clock_type::now();
    daemon->signal(SIGKILL);
    CHECK(daemon->wait(5000ms) == 128 + SIGKILL);
    feed.disconnect();
    // What this daemon took in at least spool_sync_seconds before its kill.
    for (const auto& [seq, at] : feed.fed())
      if (at >= started_at && at + 1s <= killed_at) required.insert(seq);
  }
  const auto on_disk = bytes_in(queue_dir);
  test::line_sink sink(run.dir / "sink", carbon_port);
  auto daemon = start_daemon(cfg, carbon_port, run.dir / "log-last");
  std::set<std::uint64_t> arrived;
  const bool all = test::wait_until(
      [&] {
        arrived = fed_lines_in(sink.data());
        return std::includes(arrived.begin(), arrived.end(), required.begin(), required.end());
      },
      60000ms);
  daemon->signal(SIGTERM);
  CHECK(daemon->wait(10000ms) == 0);
  std::vector<std::uint64_t> missing;
  std::set_difference(required.begin(), required.end(), arrived.begin(), arrived.end(),
                      std::back_inserter(missing));
  MESSAGE("seed " << seed << ": " << feed.fed().size() << " lines fed over 20 kills, "
                  << required.size() << " fed at least 1 s before a kill, " << arrived.size()
                  << " arrived, " << missing.size() << " of those missing; " << on_disk
                  << " bytes queued at the end of the outage");
  CHECK(all);
  CHECK(missing.empty());
  if (!missing.empty()) {
    std::string first;
    for (std::size_t i = 0; i < std::min<std::size_t>(missing.size(), 20); ++i)
      first += " " + std::to_string(missing[i]);
    MESSAGE("first missing:" << first);
    MESSAGE(test::read_file(run.dir / "log-last"));
  }
  CHECK(required.size() > 5000);
  CHECK(sink.connections() == 1);
}

TEST_CASE("outage queue: with carbon healthy, nothing is written to disk and nothing is synced") {
  outage_setup setup;
  auto& [run, queue_dir, listen_port, carbon_port] = setup;
  const char* env = std::getenv("SOCKPUSH_STEADY_SECONDS");
  const int seconds = env ? std::atoi(env) : 30;
  auto& sink = run.sink();
  auto daemon =
      start_daemon(queue_config(run, listen_port, queue_dir), sink.port(), run.dir / "log");
  REQUIRE(listening(listen_port));
  REQUIRE(run.received(".sockpush.sent_lines", 2, 10000ms));
  const auto io_file = "/proc/" + std::to_string(daemon->pid()) + "/io";
  auto write_bytes = [&] {
    const auto io = test::read_file(io_file);
    const auto at = io.find("\nwrite_bytes: ");
    return std::stoull(io.substr(at + 14));
  };
  test::child strace({"strace", "-f", "-qq", "-e",
                      "trace=fsync,fdatasync,sync,syncfs,sync_file_range,msync", "-o",
                      run.dir / "syncs", "-p", std::to_string(daemon->pid())});
  test::sleep_ms(500);  // strace attached
  const auto written_before = write_bytes();
  feeder feed(listen_port);
  feed.feed_for(std::chrono::seconds(seconds), 50);
  const auto written = write_bytes() - written_before;
  strace.signal(SIGINT);
  strace.wait(5000ms);
  const auto syncs = test::count_of(test::read_file(run.dir / "syncs"), "sync");
  REQUIRE(test::wait_until([&] { return fed_lines_in(sink.data()).size() == feed.fed().size(); },
                           10000ms));
  MESSAGE(seconds << " s healthy, " << feed.fed().size() << " lines fed: write_bytes +" << written
                  << ", " << syncs << " sync calls, " << files_in(queue_dir)
                  << " files in spool_dir");
  CHECK(written == 0);
  CHECK(syncs == 0);
  CHECK(files_in(queue_dir) == 0);
  daemon->signal(SIGTERM);
  CHECK(daemon->wait(10000ms) == 0);
}

namespace {

/// Carbon down, a full or read-only queue directory: one warning, the lines
/// counted, the daemon collecting on; then the directory works again and
/// the queue with it; then carbon is back and gets the lines and counters.
void check_queue_fault(const std::string& mount_broken, const std::string& mount_fixed,
                       const std::string& error_text, int lines_per_50ms, std::size_t line_bytes,
                       const std::string& start_warning = {}) {
  enter_private_mount_namespace();
  outage_setup setup;
  auto& [run, queue_dir, listen_port, carbon_port] = setup;
  std::filesystem::create_directories(queue_dir);
  // "DIR" in the commands stands for the queue directory.
  auto sh = [&](std::string command) {
    for (auto at = command.find("DIR"); at != std::string::npos; at = command.find("DIR"))
      command.replace(at, 3, "'" + queue_dir + "'");
    int code = 0;
    auto out = test::run_capture(command + " 2>&1", &code);
    REQUIRE_MESSAGE(code == 0, command, ": ", out);
  };
  sh(mount_broken);
  // A buffer of 1 MiB fills a 2 MiB disk in a few flushes.
  auto daemon = start_daemon(queue_config(run, listen_port, queue_dir, "max_bytes = 1048576\n"),
                             carbon_port, run.dir / "log");
  REQUIRE(listening(listen_port));
  feeder feed(listen_port, line_bytes);
  const bool failed = test::wait_until(
      [&] {
        feed.send(lines_per_50ms);
        return test::read_file(run.dir / "log").find(error_text) != std::string::npos;
      },
      20000ms);
  CHECK(failed);
  feed.feed_for(3000ms, lines_per_50ms);  // retried every second, warned once
  const auto log = test::read_file(run.dir / "log");
  CHECK(test::count_of(log, "keeping lines in memory only") == 1);
  if (!start_warning.empty()) CHECK(log.find(start_warning) != std::string::npos);
  CHECK(daemon->running());
  sh(mount_fixed);
  const bool works = test::wait_until(
      [&] {
        feed.send(lines_per_50ms);
        return test::read_file(run.dir / "log").find("outage queue works again") !=
               std::string::npos;
      },
      10000ms);
  CHECK(works);
  const auto fed_after_recovery = feed.fed().rbegin()->first;
  feed.feed_for(1500ms, 5);
  test::line_sink sink(run.dir / "sink", carbon_port);
  const auto t = tally_after_drain(sink, *daemon);
  const auto arrived = fed_lines_in(sink.data());
  MESSAGE(error_text << ": " << feed.fed().size() << " lines fed; produced " << t.produced
                     << ", sent " << t.sent << ", dropped " << t.dropped << " (" << t.io_error
                     << " as spool_io_error), " << t.at_carbon << " distinct lines at carbon");
  CHECK(t.io_error > 0);
  // Lines queued once it worked again arrive.
  CHECK(arrived.count(fed_after_recovery) == 1);
  CHECK(arrived.count(feed.fed().rbegin()->first) == 1);
}

}  // namespace

TEST_CASE(
    "outage queue: a full 2 MiB tmpfs: one warning, counted, memory only, and back when space "
    "returns") {
  check_queue_fault(
      "mount -t tmpfs -o size=2m tmpfs DIR", "mount -o remount,size=64m DIR",
      "No space left on device", 200, 200,
      "is in RAM (tmpfs): queued lines survive a restart of sockpush, not a power cut");
}

TEST_CASE(
    "outage queue: a read-only bind mount: one warning, counted, memory only, and back when "
    "writable") {
  check_queue_fault("mount --bind DIR DIR && mount -o remount,bind,ro DIR",
                    "mount -o remount,bind,rw DIR", "Read-only file system", 20, 0);
}

TEST_CASE(
    "outage queue: an outage longer than it holds: within spool_max_bytes, sent + dropped = "
    "produced exactly") {
  outage_setup setup;
  auto& [run, queue_dir, listen_port, carbon_port] = setup;
  const std::uint64_t max_bytes = 262144, segment_bytes = 32768;
  auto daemon = start_daemon(
      queue_config(run, listen_port, queue_dir,
                   "spool_max_bytes = " + std::to_string(max_bytes) +
                       "\nspool_segment_bytes = " + std::to_string(segment_bytes) + "\n"),
      carbon_port, run.dir / "log");
  REQUIRE(listening(listen_port));
  feeder feed(listen_port, 60);
  std::uint64_t most_on_disk = 0;
  const auto end = clock_type::now() + 8s;
  while (clock_type::now() < end) {
    feed.send(100);
    if (std::filesystem::exists(queue_dir))
      most_on_disk = std::max(most_on_disk, bytes_in(queue_dir));
    test::sleep_ms(20);
  }
  test::line_sink sink(run.dir / "sink", carbon_port);
  const auto t = tally_after_drain(sink, *daemon);
  MESSAGE(feed.fed().size() << " lines fed; at most " << most_on_disk << " bytes on disk (limit "
                            << max_bytes << " + a segment of " << segment_bytes << "); produced "
                            << t.produced << ", sent " << t.sent << ", dropped " << t.dropped
                            << " (" << t.spool_full << " as spool_full), " << t.at_carbon
                            << " distinct lines at carbon");
  CHECK(most_on_disk <= max_bytes + segment_bytes);
  CHECK(t.spool_full > 0);
}

TEST_CASE(
    "outage queue: while a 20 MiB backlog drains, every fresh round arrives within one interval") {
  outage_setup setup;
  auto& [run, queue_dir, listen_port, carbon_port] = setup;
  auto daemon =
      start_daemon(queue_config(run, listen_port, queue_dir,
                                "max_bytes = 4194304\nspool_replay_bytes_per_second = 2097152\n"),
                   carbon_port, run.dir / "log");
  REQUIRE(listening(listen_port));
  feeder feed(listen_port, 200);
  REQUIRE(test::wait_until(
      [&] {
        feed.send(2000);
        return bytes_in(queue_dir) >= (20u << 20);
      },
      60000ms));
  const auto backlog = bytes_in(queue_dir);
  test::line_sink sink(run.dir / "sink", carbon_port);
  const auto back_at = std::time(nullptr);
  // When each round (by its timestamp) was first seen at carbon. The sink's
  // file is read from where the last poll stopped: parsing all of its
  // 20 MiB every poll would take longer than the delays measured.
  std::map<long long, std::chrono::system_clock::time_point> seen;
  bool drained = false;
  const int data_fd = ::open((run.dir / "sink").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(data_fd >= 0);
  std::string unread;
  std::vector<char> chunk(1 << 16);
  const auto limit = clock_type::now() + 60s;
  while (!drained && clock_type::now() < limit) {
    for (ssize_t n; (n = ::read(data_fd, chunk.data(), chunk.size())) > 0;)
      unread.append(chunk.data(), static_cast<std::size_t>(n));
    const auto now = std::chrono::system_clock::now();  // every line read arrived before it
    std::size_t start = 0;
    for (auto nl = unread.find('\n'); nl != std::string::npos; nl = unread.find('\n', start)) {
      const std::string_view line(unread.data() + start, nl - start);
      start = nl + 1;
      const auto ts_at = line.rfind(' ');
      if (ts_at == std::string_view::npos) continue;
      const auto ts = std::stoll(std::string(line.substr(ts_at + 1)));
      if (line.find(".sockpush.sent_lines ") != std::string_view::npos) seen.emplace(ts, now);
      if (line.find(".sockpush.spool.lines 0 ") != std::string_view::npos && ts > back_at)
        drained = true;
    }
    unread.erase(0, start);
    test::sleep_ms(25);
  }
  ::close(data_fd);
  const auto drained_in = std::time(nullptr) - back_at;
  daemon->signal(SIGTERM);
  CHECK(daemon->wait(10000ms) == 0);
  long long worst_ms = 0;
  std::size_t rounds = 0;
  for (const auto& [ts, at] : seen) {
    if (ts <= back_at) continue;  // collected during the outage: part of the backlog
    ++rounds;
    const auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(
        at - std::chrono::system_clock::from_time_t(ts));
    worst_ms = std::max<long long>(worst_ms, delay.count());
  }
  MESSAGE(backlog << " bytes queued; drained in " << drained_in << " s; " << rounds
                  << " fresh rounds, the latest arrived " << worst_ms
                  << " ms after its timestamp (the interval is 1000 ms, polled every 25 ms)");
  CHECK(drained);
  // Not faster than spool_replay_bytes_per_second allows (a 0.2 s burst, 1 s of clock rounding).
  CHECK(drained_in >= static_cast<long long>(backlog / 2097152) - 1);
  CHECK(rounds >= 5);
  CHECK(worst_ms <= 1000);
}
