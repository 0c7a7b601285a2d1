// Listeners and exec jobs in a real daemon process: lines from scripts
// arrive at a loopback sink over the daemon's one carbon connection.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "support/daemon_run.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;

namespace {

int connect_tcp(unsigned port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& text) {
  REQUIRE(::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()));
}

void send_udp(unsigned port, const std::string& text) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  CHECK(::sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) ==
        static_cast<ssize_t>(text.size()));
  ::close(fd);
}

/// True once the peer has closed: read() returns 0 (or fails) within `limit`.
bool closed_by_peer(int fd, std::chrono::milliseconds limit) {
  timeval tv{static_cast<time_t>(limit.count() / 1000),
             static_cast<suseconds_t>(limit.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  auto got = ::recv(fd, &c, 1, 0);
  return got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

bool has_line(const std::string& data, const std::string& line) {
  for (const auto& l : test::split_lines(data))
    if (l == line) return true;
  return false;
}

std::string write_config(const test::temp_dir& dir, unsigned carbon_port,
                         const std::string& extra) {
  auto path = dir / "sockpush.toml";
  test::write_file(path, "[carbon]\naddress = \"127.0.0.1:" + std::to_string(carbon_port) +
                             "\"\n[collect]\ninterval = 0.5\nprefix = \"t\"\n" + extra);
  return path;
}

}  // namespace

namespace {

/// Bytes the daemon has not read yet on its connection accepted at local
/// `port` (ss's Recv-Q); -1 while there is no such connection.
long long unread_bytes(unsigned port) {
  int code = -1;
  auto out = test::run_capture(
      "ss -Htn state established '( sport = :" + std::to_string(port) + " )'", &code);
  REQUIRE_MESSAGE(code == 0, "ss failed: " << out);
  auto lines = test::split_lines(out);
  return lines.empty() ? -1 : std::stoll(lines.front());
}

}  // namespace

TEST_CASE("listen: tcp, udp, unix and bash's /dev/udp lines share the one carbon connection") {
  test::daemon_run run;
  const auto& dir = run.dir;
  auto& sink = run.sink();
  auto tcp_port = test::unused_port();
  auto udp_port = test::unused_port();
  auto unix_path = dir / "lines.sock";
  auto cfg =
      write_config(dir, sink.port(),
                   "[[listen]]\naddress = \"tcp://127.0.0.1:" + std::to_string(tcp_port) +
                       "\"\n[[listen]]\naddress = \"udp://127.0.0.1:" + std::to_string(udp_port) +
                       "\"\n[[listen]]\naddress = \"unix://" + unix_path + "\"\n");
  run.start({.config = cfg});
  REQUIRE(test::wait_until([&] { return ::access(unix_path.c_str(), F_OK) == 0; }, 5000ms));

  int tcp = connect_tcp(tcp_port);
  REQUIRE(tcp >= 0);
  send_all(tcp, "from.tcp 1 100\nbad.value nan 100\nfrom.tcp.crlf 2 100\r\nsplit.");
  // Nothing left in the daemon's receive queue: it has read up to "split."
  // before the rest of that line is sent, so the line is split across reads.
  REQUIRE(test::wait_until([&] { return unread_bytes(tcp_port) == 0; }, 5000ms));
  send_all(tcp, "line 3 100\nlast.without.newline 4 100");
  ::close(tcp);
  int local = connect_unix(unix_path);
  REQUIRE(local >= 0);
  send_all(local, "from.unix 5 100\nwild.* 6 100\n");
  ::close(local);
  send_udp(udp_port, "from.udp 7 100\nfrom.udp.no_ts 8\nfrom.udp.last 9 100");
  int code = 0;
  test::run_capture(
      "bash -c 'echo \"from.bash 10 100\" > /dev/udp/127.0.0.1/" + std::to_string(udp_port) + "'",
      &code);
  CHECK(code == 0);

  const char* expected[] = {
      "from.tcp 1 100",  "from.tcp.crlf 2 100", "split.line 3 100",    "last.without.newline 4 100",
      "from.unix 5 100", "from.udp 7 100",      "from.udp.last 9 100", "from.bash 10 100"};
  auto all_arrived = [&] {
    auto data = sink.data();
    for (auto* line : expected)
      if (!has_line(data, line)) return false;
    return !test::metric(data, "t.sockpush.invalid_lines.bad_path").values.empty() &&
           test::metric(data, "t.sockpush.invalid_lines.bad_path").values.back() >= 1;
  };
  REQUIRE(test::wait_until(all_arrived, 10000ms));
  CHECK(run.stop() == 0);

  auto data = sink.data();
  CHECK(sink.connections() == 1);
  CHECK(test::metric(data, "from.udp.no_ts").values == std::vector<long long>{8});
  CHECK(test::metric(data, "t.sockpush.invalid_lines.bad_value").values.back() == 1);
  CHECK(test::metric(data, "t.sockpush.invalid_lines.bad_path").values.back() == 1);
  CHECK(test::metric(data, "t.sockpush.received_lines").values.back() == 9);
  CHECK(data.find("nan") == std::string::npos);
  CHECK(data.find("wild") == std::string::npos);
  auto log = run.log();
  CHECK(log.find("refused (bad_value)") != std::string::npos);
  CHECK(log.find("tcp://127.0.0.1:" + std::to_string(tcp_port) + " client 127.0.0.1:") !=
        std::string::npos);
  CHECK(::access(unix_path.c_str(), F_OK) != 0);  // socket file removed at exit
}

TEST_CASE(
    "listen: max_clients refuses the extra client, idle clients are closed, a half line left at "
    "an idle close or at our stop is refused") {
  test::daemon_run run;
  const auto& dir = run.dir;
  auto& sink = run.sink();
  auto port = test::unused_port();
  auto cfg = write_config(dir, sink.port(),
                          "[[listen]]\naddress = \"tcp://127.0.0.1:" + std::to_string(port) +
                              "\"\nmax_clients = 2\nidle_timeout = 1\n");
  run.start({.config = cfg});
  int first = -1;
  REQUIRE(test::wait_until([&] { return (first = connect_tcp(port)) >= 0; }, 5000ms));
  int second = connect_tcp(port);
  REQUIRE(second >= 0);
  send_all(second, "keep.alive 1 100\nidle.half 2");
  test::sleep_ms(200);  // the daemon has accepted both before the third arrives
  int third = connect_tcp(port);
  REQUIRE(third >= 0);
  CHECK(closed_by_peer(third, 2000ms));
  // The first two are served until they stay silent for idle_timeout.
  CHECK_FALSE(closed_by_peer(first, 300ms));
  CHECK(closed_by_peer(first, 3000ms));
  CHECK(closed_by_peer(second, 3000ms));
  REQUIRE(test::wait_until(
      [&] {
        auto refused = test::metric(sink.data(), ".refused_clients").values;
        return has_line(sink.data(), "keep.alive 1 100") && !refused.empty() && refused.back() == 1;
      },
      5000ms));
  for (int fd : {first, second, third}) ::close(fd);
  // A client still connected, mid-line, when the daemon stops.
  int last = connect_tcp(port);
  REQUIRE(last >= 0);
  send_all(last, "stop.half 3");
  test::sleep_ms(300);
  CHECK(run.stop() == 0);
  ::close(last);
  auto log = run.log();
  CHECK(log.find("max_clients = 2") != std::string::npos);
  // Only the client's own clean close completes a line without '\n'.
  auto data = sink.data();
  CHECK(data.find("idle.half") == std::string::npos);
  CHECK(data.find("stop.half") == std::string::npos);
  std::size_t truncated = 0;
  for (auto at = log.find("refused (truncated)"); at != std::string::npos;
       at = log.find("refused (truncated)", at + 1))
    ++truncated;
  CHECK(truncated == 2);
}

TEST_CASE("listen: a non-loopback address needs allow_remote, a taken port fails the start") {
  test::daemon_run run;
  const auto& dir = run.dir;
  test::write_file(dir / "remote.toml", "[[listen]]\naddress = \"tcp://0.0.0.0:2003\"\n");
  int code = 0;
  auto out = test::run_capture(
      std::string(SOCKPUSH_BINARY) + " --check-config " + (dir / "remote.toml") + " 2>&1", &code);
  CHECK(code == 2);
  CHECK(out.find("not a loopback address") != std::string::npos);
  CHECK(out.find("remote.toml") != std::string::npos);

  test::line_sink sink(dir / "sink");  // its port is taken
  test::write_file(dir / "taken.toml", "[[listen]]\naddress = \"tcp://127.0.0.1:" +
                                           std::to_string(sink.port()) + "\"\n");
  out = test::run_capture(
      test::shell_line(test::daemon_command({.config = dir / "taken.toml", .carbon = "-"})) +
          " 2>&1",
      &code);
  CHECK(code == 1);
  CHECK(out.find("cannot listen on tcp://127.0.0.1:" + std::to_string(sink.port())) !=
        std::string::npos);
}

TEST_CASE(
    "exec: job lines get the round's timestamp and the prefix, stderr is logged, "
    "no inherited sockets, SIGPIPE at default") {
  test::daemon_run run;
  const auto& dir = run.dir;
  auto& sink = run.sink();
  auto cfg = write_config(dir, sink.port(), R"toml(
[[exec]]
name = "probe"
command = ["sh", "-c", "echo probe.value 7; echo probe.stamped 8 1234; echo oops >&2; yes | head -n 1 >/dev/null; echo fds $(ls /proc/self/fd | wc -l)"]
interval = 1
prefix = true
)toml");
  run.start({.config = cfg});
  REQUIRE(run.received("t.probe.value", 2, 10000ms));
  CHECK(run.stop() == 0);
  auto data = sink.data();
  auto value = test::metric(data, "t.probe.value");
  CHECK(value.values.front() == 7);
  CHECK(value.timestamps[1] == value.timestamps[0] + 1);  // on the job's 1 s boundaries
  CHECK(test::metric(data, "t.probe.stamped").timestamps.front() == 1234);
  // ls's own 0, 1, 2 and its directory: no carbon or listener socket leaked in.
  CHECK(test::metric(data, "t.fds").values.front() == 4);
  auto log = run.log();
  CHECK(log.find("exec job probe: stderr: oops") != std::string::npos);
  CHECK(log.find("Broken pipe") == std::string::npos);  // `yes` died of SIGPIPE, as in a shell
  CHECK(test::metric(data, "t.sockpush.exec.probe.runs").values.back() >= 1);
  CHECK(test::metric(data, "t.sockpush.exec.probe.failures").values.back() == 0);
}

TEST_CASE(
    "exec: an overrunning job is killed with its children, runs never overlap, "
    "a missing program is a counted failure") {
  test::daemon_run run;
  const auto& dir = run.dir;
  auto& sink = run.sink();
  auto marker = dir / "running";
  auto cfg = write_config(dir, sink.port(),
                          R"(
[[exec]]
name = "slow"
command = ["sh", "-c", "echo slow.started 1; sleep 31.4159; echo slow.finished 1"]
interval = 0.5
timeout = 0.3

[[exec]]
name = "long"
command = ["sh", "-c", "mkdir )" +
                              marker + R"( || echo overlap.detected 1; sleep 0.7; rmdir )" +
                              marker + R"(; echo long.done 1"]
interval = 0.2
timeout = 5

[[exec]]
name = "missing"
command = ["/nonexistent/probe"]
interval = 0.5
)");
  run.start({.config = cfg});
  REQUIRE(test::wait_until(
      [&] {
        auto timeouts = test::metric(sink.data(), "t.sockpush.exec.slow.timeouts").values;
        auto done = test::metric(sink.data(), "long.done").values;
        return !timeouts.empty() && timeouts.back() >= 2 && done.size() >= 3;
      },
      15000ms));
  CHECK(run.stop() == 0);
  // Each killed group took its sleep along, the last one at shutdown: none
  // is left running: pgrep's exit status 1 is "none matched" (a missing
  // pgrep would be 127). The [.] keeps pgrep from matching this shell itself.
  int pgrep = -1;
  auto left = test::run_capture("pgrep -f 'sleep 31[.]4159'", &pgrep);
  CHECK_MESSAGE(pgrep == 1, "pgrep exit status " << pgrep << ", found: " << left);
  auto data = sink.data();
  CHECK(test::metric(data, "slow.started").values.size() >= 2);
  CHECK(test::metric(data, "slow.finished").values.empty());
  CHECK(test::metric(data, "overlap.detected").values.empty());
  CHECK(test::metric(data, "t.sockpush.exec.long.skipped_rounds").values.back() >= 2);
  CHECK(test::metric(data, "t.sockpush.exec.missing.failures").values.back() >= 2);
  auto log = run.log();
  CHECK(log.find("exec job slow: killed after its timeout of 300 ms") != std::string::npos);
  CHECK(log.find("exec job missing: cannot start /nonexistent/probe") != std::string::npos);
  // A persistent failure is logged once, not every round.
  CHECK(log.find("cannot start") == log.rfind("cannot start"));
}

TEST_CASE(
    "listen: 100k hostile connections, NUL bytes, a 1 MB line, half lines: valid lines all "
    "arrive") {
  test::daemon_run run(test::network::private_namespace);
  const auto& dir = run.dir;
  auto& sink = run.sink();
  auto port = test::unused_port();
  auto cfg = write_config(
      dir, sink.port(), "[[listen]]\naddress = \"tcp://127.0.0.1:" + std::to_string(port) + "\"\n");
  auto& daemon = run.start({.config = cfg});
  int good = -1;
  REQUIRE(test::wait_until([&] { return (good = connect_tcp(port)) >= 0; }, 5000ms));
  auto rss_kib = [&] {
    auto status = test::read_file("/proc/" + std::to_string(daemon.pid()) + "/status");
    return std::stoul(status.substr(status.find("VmRSS:") + 6));
  };
  const auto rss_before = rss_kib();

  // One client sends garbage on its own connection: NUL bytes, invalid
  // UTF-8, a 1 MB line without a newline, then a valid line.
  int rude = connect_tcp(port);
  REQUIRE(rude >= 0);
  send_all(rude, std::string("nul\0path 1 2\n\xff\xfe bin 3 4\n", 24));
  send_all(rude, std::string(1 << 20, 'x'));
  send_all(rude, "\nafter.garbage 1 100\n");
  ::close(rude);

  // 100,000 tiny connections: most send a half line and reset (SO_LINGER
  // 0, so the test side keeps no TIME_WAIT), some connect and vanish at once.
  // A well-behaved client sends a valid line every 1000 of them.
  const linger reset{1, 0};
  int refused = 0;
  for (int i = 0; i < 100000; ++i) {
    int fd = connect_tcp(port);
    if (fd < 0) {
      ++refused;
      continue;
    }
    if (i % 3 != 0) ::send(fd, "half.line 1", 11, MSG_NOSIGNAL);
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(fd);
    if (i % 1000 == 0) send_all(good, "good.line " + std::to_string(i / 1000) + " 100\n");
  }
  ::close(good);
  CHECK(daemon.running());
  REQUIRE(test::wait_until(
      [&] {
        auto truncated = test::metric(sink.data(), ".invalid_lines.truncated").values;
        return has_line(sink.data(), "good.line 99 100") &&
               has_line(sink.data(), "after.garbage 1 100") && !truncated.empty() &&
               truncated.back() > 0;
      },
      15000ms));
  const auto rss_after = rss_kib();
  CHECK(run.stop() == 0);
  auto data = sink.data();
  int good_lines = 0;
  for (int k = 0; k < 100; ++k)
    good_lines += has_line(data, "good.line " + std::to_string(k) + " 100");
  auto truncated = test::metric(data, ".invalid_lines.truncated").values;
  MESSAGE("100000 connections (" << refused << " refused by the kernel), " << good_lines
                                 << " of 100 good lines arrived, " << truncated.back()
                                 << " half lines refused as truncated; RSS " << rss_before << " -> "
                                 << rss_after << " KiB");
  CHECK(good_lines == 100);
  CHECK(data.find("half.line") == std::string::npos);  // never forwarded
  CHECK(data.find("nul") == std::string::npos);
  CHECK(data.find("xxxx") == std::string::npos);
  CHECK(refused == 0);
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(rss_after <= rss_before + 2048);
#endif
}
