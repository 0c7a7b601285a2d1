// The TCP state collector against the kernel: real sockets in a private
// network namespace, counted like sockstat and ss count them.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <sstream>

#include "sockpush/collect/tcp_state_collector.hpp"
#include "support/process.hpp"

using namespace sockpush;
using namespace std::chrono_literals;

namespace {

/// Makes `count` TIME_WAIT sockets: each client binds its own 127.1.x.y
/// source (no ephemeral-port search), connects, and closes first.
void make_time_wait(int listener, const sockaddr_in& server, int count) {
  constexpr int batch = 500;
  for (int done = 0; done < count;) {
    int n = std::min(batch, count - done);
    std::vector<int> clients, accepted;
    for (int i = 0; i < n; ++i) {
      int k = done + i;
      auto source = "127.1." + std::to_string(k / 250) + "." + std::to_string(k % 250 + 1);
      int c = test::must(socket(AF_INET, SOCK_STREAM, 0), "socket");
      auto src = test::ipv4(source.c_str(), 20000);
      test::must(bind(c, reinterpret_cast<const sockaddr*>(&src), sizeof src), "bind");
      test::must(connect(c, reinterpret_cast<const sockaddr*>(&server), sizeof server), "connect");
      clients.push_back(c);
    }
    for (int i = 0; i < n; ++i)
      accepted.push_back(test::must(accept(listener, nullptr, nullptr), "accept"));
    for (int c : clients) close(c);  // the side that closes first holds TIME_WAIT
    for (int a : accepted) close(a);
    done += n;
  }
}

std::uint64_t sockstat_tw() {
  std::istringstream in(test::read_file("/proc/net/sockstat"));
  for (std::string word; in >> word;) {
    if (word == "tw") {
      std::uint64_t tw = 0;
      in >> tw;
      return tw;
    }
  }
  FAIL("no tw in /proc/net/sockstat");
  return 0;
}

/// `ss -tan` counted per state, as a user would check it.
std::map<std::string, std::uint64_t> ss_states() {
  int code = 0;
  auto out = test::run_capture("ss -tan", &code);
  REQUIRE(code == 0);
  std::map<std::string, std::uint64_t> counts;
  for (const auto& line : test::split_lines(out)) {
    auto state = line.substr(0, line.find(' '));
    if (state != "State") ++counts[state];
  }
  return counts;
}

}  // namespace

TEST_CASE("kernel: 10,500 TIME_WAIT and 300 ESTABLISHED sockets counted like sockstat and ss") {
  auto why = test::enter_private_network_namespace();
  REQUIRE_MESSAGE(why.empty(), why);

  int listener = test::must(socket(AF_INET, SOCK_STREAM, 0), "socket");
  int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  auto server = test::ipv4("127.0.0.1", 5555);
  test::must(bind(listener, reinterpret_cast<const sockaddr*>(&server), sizeof server), "bind");
  test::must(listen(listener, 1024), "listen");

  constexpr int time_wait = 10500;
  constexpr int established_pairs = 150;
  make_time_wait(listener, server, time_wait);
  std::vector<int> open_sockets;
  for (int i = 0; i < established_pairs; ++i) {
    int c = test::must(socket(AF_INET, SOCK_STREAM, 0), "socket");
    test::must(connect(c, reinterpret_cast<const sockaddr*>(&server), sizeof server), "connect");
    open_sockets.push_back(c);
    open_sockets.push_back(test::must(accept(listener, nullptr, nullptr), "accept"));
  }

  // Some of the 10,500 sometimes never reach TIME_WAIT (seen in loaded CI
  // runs: 4, 69 and 139 short, with sockstat, ss, /proc and sock_diag all
  // agreeing). That is the test's setup, not what it tests: the
  // comparisons below are between the tools on the same sockets.
  constexpr int setup_at_least = time_wait - time_wait / 20;
  const bool all_there = test::wait_until([] { return sockstat_tw() >= time_wait; }, 2000ms);
  CHECK((all_there || sockstat_tw() >= setup_at_least));

  tcp_state_collector netlink;
  REQUIRE(netlink.source() == socket_table::source::sock_diag);
  tcp_state_collector proc({}, true);
  REQUIRE(proc.source() == socket_table::source::proc);

  const auto tw = sockstat_tw();
  auto counted = netlink.count();
  auto ss = ss_states();
  auto from_proc = proc.count();
  MESSAGE("sock_diag time_wait=" << counted[6] << " established=" << counted[1]
                                 << " listen=" << counted[10] << "; sockstat tw=" << tw
                                 << "; ss TIME-WAIT=" << ss["TIME-WAIT"] << " ESTAB=" << ss["ESTAB"]
                                 << "; /proc time_wait=" << from_proc[6]);

  CHECK(tw >= setup_at_least);
  CHECK(counted[1] == 2 * established_pairs);
  CHECK(counted[1] == ss["ESTAB"]);
  CHECK(counted[10] == 1);
  CHECK(counted[10] == ss["LISTEN"]);
  CHECK(from_proc[1] == counted[1]);

  // And the daemon itself, in the same namespace, reports the same figure.
  test::temp_dir dir;
  test::child once(test::daemon_command({.carbon = "-", .prefix = "ns", .once = true}),
                   dir / "out");
  REQUIRE(once.wait(20000ms) == 0);
  std::uint64_t reported = 0;
  for (const auto& line : test::split_lines(test::read_file(dir / "out")))
    if (line.rfind("ns.tcp.states.time_wait ", 0) == 0) reported = std::stoull(line.substr(24));
  MESSAGE("sockpush --once reported time_wait=" << reported);
  // Nothing in this namespace makes or ends a TIME_WAIT socket while the
  // tools count (they last 60 s): when sockstat reads the same before and
  // after, every tool must agree with it exactly. Otherwise (a socket
  // expired in between) within the change.
  const auto tw_after = sockstat_tw();
  const auto slack = tw > tw_after ? tw - tw_after : tw_after - tw;
  MESSAGE("sockstat tw before " << tw << ", after " << tw_after);
  for (auto [tool, seen] : {std::pair{"sock_diag", counted[6]},
                            std::pair{"ss", static_cast<std::uint64_t>(ss["TIME-WAIT"])},
                            std::pair{"/proc", from_proc[6]}, std::pair{"--once", reported}}) {
    const auto gap = seen > tw ? seen - tw : tw - seen;
    CHECK_MESSAGE(gap <= slack, tool << " counted " << seen << " TIME_WAIT, sockstat " << tw);
  }

  for (int fd : open_sockets) close(fd);
  close(listener);
}
