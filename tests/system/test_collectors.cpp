// The collectors against real kernel state in a private network namespace:
// ephemeral-port pressure per destination, per-port states, UDP sockets,
// sockstat, TCP counters, settings and conntrack, each compared with what
// ss, /proc and the test's own socket counts say.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "sockpush/collect/conntrack_collector.hpp"
#include "sockpush/collect/kernel_counters_collector.hpp"
#include "sockpush/collect/proc_files.hpp"
#include "sockpush/collect/settings_collector.hpp"
#include "sockpush/collect/tcp_state_collector.hpp"
#include "sockpush/collect/udp_collector.hpp"
#include "support/process.hpp"

using namespace sockpush;
using namespace std::chrono_literals;

namespace {

int listen_on(const char* ip, std::uint16_t port) {
  int fd = test::must(socket(AF_INET, SOCK_STREAM, 0), "socket");
  auto a = test::ipv4(ip, port);
  test::must(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), "bind");
  test::must(listen(fd, 1024), "listen");
  return fd;
}

/// `count` connections from ephemeral ports to `server`; returns the
/// client and accepted descriptors.
std::vector<int> connect_many(int listener, const char* ip, std::uint16_t port, int count) {
  std::vector<int> fds;
  auto server = test::ipv4(ip, port);
  for (int i = 0; i < count; ++i) {
    int c = test::must(socket(AF_INET, SOCK_STREAM, 0), "socket");
    test::must(connect(c, reinterpret_cast<sockaddr*>(&server), sizeof server), "connect");
    fds.push_back(c);
    fds.push_back(test::must(accept(listener, nullptr, nullptr), "accept"));
  }
  return fds;
}

/// The round's lines as path -> value (prefix "t." removed).
std::map<std::string, double> collect(collector& c) {
  std::string text;
  round_lines out(text, "t", 1700000000);
  c.collect(out);
  std::map<std::string, double> values;
  for (const auto& line : test::split_lines(text)) {
    auto a = line.find(' ');
    values[line.substr(2, a - 2)] = std::stod(line.substr(a + 1, line.rfind(' ') - a - 1));
  }
  return values;
}

std::size_t ss_count(const std::string& filter) {
  return test::lines_printed_by("ss -Htan " + filter);
}

}  // namespace

TEST_CASE(
    "kernel: ephemeral ports per destination, per-port states, UDP, sockstat, counters, "
    "settings") {
  auto why = test::enter_private_network_namespace();
  REQUIRE_MESSAGE(why.empty(), why);
  // A narrow range with a reserved block, as an admin fighting exhaustion would set it.
  test::write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40999");
  test::write_file("/proc/sys/net/ipv4/ip_local_reserved_ports", "40990-40999");
  test::write_file("/proc/sys/net/ipv4/tcp_tw_reuse", "0");
  test::write_file("/proc/sys/net/ipv4/tcp_fin_timeout", "33");

  int carbon = listen_on("127.0.0.1", 2003);
  int web = listen_on("127.0.0.2", 8080);
  // 600 short connections to carbon, closed by the client: 600 TIME_WAIT
  // holding 600 ports of the range; 200 open ones to the web server.
  for (int fd : connect_many(carbon, "127.0.0.1", 2003, 600)) close(fd);
  auto open = connect_many(web, "127.0.0.2", 8080, 200);
  REQUIRE(test::wait_until([] { return ss_count("state time-wait") >= 600; }, 5000ms));

  tcp_collector_options options;
  options.local_ports = {2003};
  options.remote_ports = {8080};
  options.listening_ports = true;
  tcp_state_collector tcp(options);
  auto v = collect(tcp);
  auto ss_to_carbon = ss_count("dst 127.0.0.1:2003 sport ge :40000 sport le :40999");
  auto ss_to_web = ss_count("dst 127.0.0.2:8080 sport ge :40000 sport le :40999");
  MESSAGE("ephemeral: range " << v["tcp.ephemeral.range_size"] << ", max used "
                              << v["tcp.ephemeral.max_used"] << " ("
                              << v["tcp.ephemeral.max_used_percent"] << " %); ss: " << ss_to_carbon
                              << " to carbon, " << ss_to_web << " to web");
  CHECK(v["tcp.ephemeral.range_size"] == 990);
  CHECK(v["tcp.ephemeral.max_used"] == 600);
  CHECK(v["tcp.ephemeral.max_used"] == static_cast<double>(ss_to_carbon));
  CHECK(v["tcp.ephemeral.max_used_percent"] == doctest::Approx(60.61));
  CHECK(v["tcp.ephemeral.destinations.127_0_0_1_2003.used"] == 600);
  CHECK(v["tcp.ephemeral.destinations.127_0_0_2_8080.used"] == static_cast<double>(ss_to_web));
  CHECK(v["tcp.ephemeral.destinations.127_0_0_2_8080.used"] == 200);
  // Server sides are not destinations: only those two are reported.
  std::size_t destinations = 0;
  for (const auto& [path, value] : v)
    destinations += path.rfind("tcp.ephemeral.destinations.", 0) == 0;
  CHECK(destinations == 2);

  CHECK(v["tcp.local_port.2003.listen"] == 1);
  CHECK(v["tcp.local_port.2003.established"] == 0);
  CHECK(v["tcp.remote_port.8080.established"] == 200);
  CHECK(v["tcp.local_port.8080.listen"] == 1);  // found by listening_ports
  CHECK(v["tcp.local_port.8080.established"] == 200);
  CHECK(v["tcp.states.time_wait"] == static_cast<double>(ss_count("state time-wait")));

  int udp_sockets[7];
  for (int& fd : udp_sockets) fd = test::must(socket(AF_INET, SOCK_DGRAM, 0), "udp socket");
  auto bound = test::ipv4("127.0.0.1", 5353);
  test::must(bind(udp_sockets[0], reinterpret_cast<sockaddr*>(&bound), sizeof bound), "bind udp");
  udp_collector udp;
  udp_collector udp_proc(true);
  // Unbound UDP sockets are not in the kernel's tables yet; the bound one is.
  auto bound_count = udp.count();
  CHECK(bound_count == udp_proc.count());
  CHECK(bound_count == test::lines_printed_by("ss -Huan"));
  CHECK(bound_count == 1);
  for (int fd : udp_sockets) close(fd);

  sockstat_collector sockstat;
  auto s = collect(sockstat);
  CHECK(s["sockstat.tcp.tw"] == v["tcp.states.time_wait"]);
  CHECK(s.count("sockstat.tcp.inuse") == 1);
  CHECK(s.count("sockstat.udp.inuse") == 1);

  // This namespace's counters started at zero: they hold exactly what we did.
  netstat_collector netstat(default_netstat_counters(), false);
  auto n = collect(netstat);
  MESSAGE("ActiveOpens " << n["netstat.Tcp.ActiveOpens"] << ", PassiveOpens "
                         << n["netstat.Tcp.PassiveOpens"] << ", TcpExt.TW "
                         << n["netstat.TcpExt.TW"]);
  CHECK(n["netstat.Tcp.ActiveOpens"] == 800);
  CHECK(n["netstat.Tcp.PassiveOpens"] == 800);
  CHECK(n["netstat.Tcp.CurrEstab"] == 400);
  CHECK(n["netstat.TcpExt.TW"] == 600);  // TIME_WAIT sockets entered, all from the clients' closes

  settings_collector settings;
  auto g = collect(settings);
  CHECK(g["settings.tcp_fin_timeout"] == 33);
  CHECK(g["settings.tcp_tw_reuse"] == 0);
  CHECK(g["settings.ephemeral_ports"] == 990);

  for (int fd : open) close(fd);
  close(carbon);
  close(web);
}

TEST_CASE("kernel: netstat rates come from the second round on, by counter name") {
  auto why = test::enter_private_network_namespace();
  REQUIRE_MESSAGE(why.empty(), why);
  netstat_collector netstat({"Tcp.ActiveOpens", "TcpExt.NoSuchCounter"}, true);
  auto first = collect(netstat);
  CHECK(first.count("netstat_rate.Tcp.ActiveOpens") == 0);
  CHECK(first.count("netstat.TcpExt.NoSuchCounter") == 0);
  int listener = listen_on("127.0.0.1", 2003);
  for (int fd : connect_many(listener, "127.0.0.1", 2003, 50)) close(fd);
  test::sleep_ms(100);
  auto second = collect(netstat);
  CHECK(second["netstat.Tcp.ActiveOpens"] == 50);
  CHECK(second["netstat_rate.Tcp.ActiveOpens"] > 0);
  close(listener);
}

TEST_CASE("kernel: conntrack fill and per-state entries from a namespace with tracking on") {
  auto why = test::enter_private_network_namespace();
  REQUIRE_MESSAGE(why.empty(), why);
  int code = 0;
  test::run_capture(
      "nft -f - <<'EOF' 2>&1\n"
      "table inet sockpush_test {\n"
      "  chain out { type filter hook output priority 0; ct state new counter; }\n"
      "}\nEOF",
      &code);
  REQUIRE_MESSAGE(code == 0, "nft could not turn on connection tracking in the test namespace");
  int listener = listen_on("127.0.0.1", 2003);
  for (int fd : connect_many(listener, "127.0.0.1", 2003, 30)) close(fd);
  auto open = connect_many(listener, "127.0.0.1", 2003, 5);
  test::sleep_ms(100);
  conntrack_collector conntrack(3);
  auto c = collect(conntrack);
  auto table = test::read_file("/proc/net/nf_conntrack");
  MESSAGE("conntrack count " << c["conntrack.count"] << " of " << c["conntrack.max"]
                             << "; time_wait " << c["conntrack.tcp.time_wait"] << ", established "
                             << c["conntrack.tcp.established"]);
  CHECK(c["conntrack.count"] == 35);
  CHECK(c["conntrack.count"] == static_cast<double>(test::split_lines(table).size()));
  CHECK(c["conntrack.max"] > 0);
  CHECK(c["conntrack.tcp.established"] == 5);
  CHECK(c["conntrack.tcp.time_wait"] == 30);
  CHECK(c["conntrack.destination_ports.2003"] == 35);
  for (int fd : open) close(fd);
  close(listener);
}
