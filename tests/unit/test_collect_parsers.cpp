// The collectors' parsers of /proc text, fed with text as the kernel writes it.
#include <doctest/doctest.h>

#include "sockpush/collect/conntrack_collector.hpp"
#include "sockpush/collect/kernel_counters_collector.hpp"
#include "sockpush/collect/proc_files.hpp"

using namespace sockpush;

TEST_CASE("conntrack lines: TCP state and original destination port") {
  conntrack_summary summary;
  detail::parse_conntrack_lines(
      "ipv4     2 tcp      6 117 TIME_WAIT src=10.0.0.5 dst=10.0.0.1 sport=40000 dport=2003 "
      "src=10.0.0.1 dst=10.0.0.5 sport=2003 dport=40000 [ASSURED] mark=0 use=1\n"
      "ipv4     2 udp      17 20 src=10.0.0.5 dst=1.1.1.1 sport=5000 dport=53 src=1.1.1.1 "
      "dst=10.0.0.5 sport=53 dport=5000 mark=0 use=1\n"
      "junk\n",
      summary);
  CHECK(summary.tcp_states["time_wait"] == 1);
  CHECK(summary.destination_ports[2003] == 1);
  CHECK(summary.destination_ports[53] == 1);
  CHECK(summary.destination_ports.count(40000) == 0);
}

TEST_CASE("sockstat and netstat text: fields by name, new ones tolerated") {
  auto s = detail::parse_sockstat(
      "sockets: used 12\nTCP: inuse 3 orphan 0 tw 16 alloc 3 mem 102 newfield 9\nUDP: inuse 0 mem "
      "0\n");
  CHECK(s["tcp.tw"] == 16);
  CHECK(s["tcp.newfield"] == 9);
  CHECK(s["sockets.used"] == 12);
  auto n = detail::parse_header_value_pairs(
      "TcpExt: SyncookiesSent TW NewOne\nTcpExt: 1 209 7\n"
      "Tcp: RtoAlgorithm MaxConn ActiveOpens\nTcp: 1 -1 472\n");
  CHECK(n["TcpExt.TW"] == 209);
  CHECK(n["TcpExt.NewOne"] == 7);
  CHECK(n["Tcp.ActiveOpens"] == 472);
  CHECK(n.count("Tcp.MaxConn") == 0);  // -1: not a counter
}

TEST_CASE("ephemeral port settings: range and reserved list") {
  auto range = parse_port_range("32768\t60999\n");
  REQUIRE(range);
  CHECK(range->low == 32768);
  CHECK(range->high == 60999);
  CHECK_FALSE(parse_port_range("60999 32768"));
  auto reserved = parse_port_list("8080,40000-40009\n");
  REQUIRE(reserved.size() == 2);
  ephemeral_ports ports{{40000, 40999}, reserved};
  CHECK(ports.size() == 990);
  CHECK_FALSE(ports.usable(40005));
  CHECK(ports.usable(40010));
  CHECK_FALSE(ports.usable(8080));
}
