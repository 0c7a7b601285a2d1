// Running under a service manager: systemd's notification protocol with a
// socket the test owns, SIGHUP reloads, syslog through a private /dev/log.
#include <doctest/doctest.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "support/daemon_run.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;

namespace {

/// A unix datagram socket bound at `path`, as systemd or syslogd would own it.
class datagram_listener {
 public:
  explicit datagram_listener(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~datagram_listener() { ::close(fd_); }
  /// Messages received within `limit` until `enough` says stop.
  template <typename Enough>
  std::vector<std::string> receive(std::chrono::milliseconds limit, Enough enough) {
    std::vector<std::string> got;
    auto end = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    while (std::chrono::steady_clock::now() < end && !enough(got)) {
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) got.emplace_back(buf, static_cast<std::size_t>(n));
    }
    return got;
  }

 private:
  int fd_ = -1;
};

/// The datagrams one after another, one a line.
std::string joined(const std::vector<std::string>& messages) {
  std::string all;
  for (const auto& m : messages) all += m + "\n";
  return all;
}

}  // namespace

TEST_CASE(
    "systemd notify: READY=1 after the first round, WATCHDOG=1 pings, STOPPING=1 on SIGTERM") {
  test::daemon_run run;
  const auto& dir = run.dir;
  datagram_listener manager(dir / "notify");
  ::setenv("NOTIFY_SOCKET", (dir / "notify").c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);  // ping every 200 ms
  run.start({.carbon = "-", .interval = "1"}, dir / "out");
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  // A fixed window: a second READY=1 within it would count.
  auto messages = manager.receive(3000ms, [](const auto&) { return false; });
  CHECK(test::count_of(joined(messages), "READY=1") == 1);
  CHECK(test::count_of(joined(messages), "WATCHDOG=1") >= 5);
  // READY=1 comes once the first round is collected, i.e. after it is on stdout.
  CHECK(test::read_file(dir / "out").find(".tcp.states.established ") != std::string::npos);
  CHECK(run.stop() == 0);
  // Everything it sent until it exited (the socket keeps what was not read).
  auto last = manager.receive(300ms, [](const auto&) { return false; });
  CHECK(test::count_of(joined(last), "STOPPING=1") == 1);
  CHECK(test::count_of(joined(last), "READY=1") == 0);
}

TEST_CASE(
    "SIGHUP: a valid new config replaces the old over a new connection, an invalid one is "
    "refused and the old one keeps running") {
  test::daemon_run run;
  const auto& dir = run.dir;
  auto& sink = run.sink();
  auto config = dir / "sockpush.toml";
  auto write_config = [&](const std::string& prefix) {
    test::write_file(config, "[carbon]\naddress = \"127.0.0.1:" + std::to_string(sink.port()) +
                                 "\"\n[collect]\ninterval = 0.5\nprefix = \"" + prefix + "\"\n");
  };
  write_config("before");
  auto& daemon = run.start({.config = config});
  REQUIRE(test::wait_until(
      [&] { return !test::metric(sink.data(), "before.tcp.states.listen").values.empty(); },
      5000ms));
  write_config("after");
  const long long reloaded = time(nullptr);
  daemon.signal(SIGHUP);
  REQUIRE(test::wait_until(
      [&] { return !test::metric(sink.data(), "after.tcp.states.listen").values.empty(); },
      10000ms));
  test::write_file(config, "[collect]\nintervall = 1\n");  // typo: must be refused
  daemon.signal(SIGHUP);
  test::sleep_ms(300);
  auto rounds_after = test::metric(sink.data(), "after.tcp.states.listen").values.size();
  REQUIRE(test::wait_until(
      [&] {
        return test::metric(sink.data(), "after.tcp.states.listen").values.size() >=
               rounds_after + 3;
      },
      5000ms));
  CHECK(daemon.running());
  CHECK(run.stop() == 0);
  auto log = run.log();
  CHECK(log.find("reload refused, the running configuration stays") != std::string::npos);
  CHECK(log.find("intervall") != std::string::npos);
  CHECK(log.find("configuration reloaded") != std::string::npos);
  CHECK(sink.connections() == 2);  // one per configuration
  // The old configuration's rounds were all delivered before the switch, up
  // to the last one before the SIGHUP (two a second, whole-second stamps).
  auto before = test::metric(sink.data(), "before.tcp.states.listen").timestamps;
  CHECK(test::metric(sink.data(), "before.sockpush.reconnects").values.size() == before.size());
  REQUIRE(!before.empty());
  CHECK(before.back() >= reloaded - 1);
  for (std::size_t i = 1; i < before.size(); ++i) CHECK(before[i] - before[i - 1] <= 1);
}

TEST_CASE("SIGHUP while carbon is unreachable: the old configuration's rounds go to the new one") {
  test::daemon_run run;
  const auto& dir = run.dir;
  auto& sink = run.sink();
  auto config = dir / "sockpush.toml";
  auto write_config = [&](unsigned port, const std::string& prefix) {
    // shutdown_timeout: how long the old configuration tries an unreachable carbon.
    test::write_file(config, "[daemon]\nshutdown_timeout = 1\n[carbon]\naddress = \"127.0.0.1:" +
                                 std::to_string(port) +
                                 "\"\nreconnect_min = 0.1\nreconnect_max = 0.2\n"
                                 "[collect]\ninterval = 0.5\nprefix = \"" +
                                 prefix + "\"\n");
  };
  write_config(test::unused_port(), "before");  // nothing listens: every round waits
  auto& daemon = run.start({.config = config});
  test::sleep_ms(3000);
  write_config(sink.port(), "after");
  const long long reloaded = time(nullptr);
  daemon.signal(SIGHUP);
  REQUIRE(run.received("after.tcp.states.listen", 2, 10000ms));
  CHECK(run.stop() == 0);
  // Carried over, oldest first, ahead of the new configuration's rounds:
  // every second from the first round to the last before the SIGHUP.
  auto before = test::metric(sink.data(), "before.tcp.states.listen").timestamps;
  MESSAGE(before.size() << " rounds of the old configuration arrived, "
                        << (before.empty() ? 0 : before.back() - reloaded)
                        << " s from the SIGHUP; one connection: " << sink.connections());
  REQUIRE(before.size() >= 5);
  CHECK(before.back() >= reloaded - 1);
  for (std::size_t i = 1; i < before.size(); ++i) CHECK(before[i] - before[i - 1] <= 1);
  const auto data = sink.data();
  CHECK(data.find("before.") < data.find("after."));
  CHECK(sink.connections() == 1);
}

TEST_CASE("log.target = syslog: messages reach /dev/log") {
  // A private mount namespace with its own /dev: the test's syslog socket is
  // /dev/log for this process and its children only.
  REQUIRE(::unshare(CLONE_NEWNS) == 0);
  REQUIRE(::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
  REQUIRE(::mount("tmpfs", "/dev", "tmpfs", 0, nullptr) == 0);
  datagram_listener syslog("/dev/log");
  test::daemon_run run;
  const auto& dir = run.dir;
  test::write_file(dir / "sockpush.toml",
                   "[log]\ntarget = \"syslog\"\n[daemon]\nshutdown_timeout = 0.5\n");
  auto& daemon = run.start(
      {.config = dir / "sockpush.toml", .carbon = "127.0.0.1:9", .interval = "1"}, dir / "out");
  // A fixed window of several reconnection attempts: the outage is logged once.
  auto messages = syslog.receive(3000ms, [](const auto&) { return false; });
  daemon.signal(SIGTERM);
  daemon.wait(10000ms);
  REQUIRE(test::count_of(joined(messages), "cannot connect to carbon at 127.0.0.1:9") == 1);
  // "<28>Nov 23 17:00:00 sockpush[1234]: ...": facility daemon, priority warning.
  CHECK(messages.front().rfind("<28>", 0) == 0);
  CHECK(messages.front().find("sockpush[") != std::string::npos);
  CHECK(run.log().empty());  // nothing on stderr
}
