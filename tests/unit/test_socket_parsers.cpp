// sock_diag datagrams and /proc/net/tcp lines as the kernel lays them out.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>

#include "sockpush/collect/tcp_state_collector.hpp"

using namespace sockpush;

namespace {

/// Appends one netlink message the way the kernel lays it out.
void append_message(std::vector<std::byte>& out, std::uint16_t type, const void* payload,
                    std::size_t size) {
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(size));
  h.nlmsg_type = type;
  auto at = out.size();
  out.resize(at + NLMSG_ALIGN(h.nlmsg_len));
  std::memcpy(out.data() + at, &h, sizeof h);
  std::memcpy(out.data() + at + NLMSG_HDRLEN, payload, size);
}

/// One socket as sock_diag reports it.
inet_diag_msg diag_message(int family, std::uint8_t state, const char* remote,
                           std::uint16_t remote_port) {
  inet_diag_msg msg{};
  msg.idiag_family = static_cast<std::uint8_t>(family);
  msg.idiag_state = state;
  msg.id.idiag_dport = htons(remote_port);
  inet_pton(family, remote, &msg.id.idiag_dst[0]);
  return msg;
}

/// An address as /proc/net/tcp{,6} prints it: each 32-bit word of the
/// network-order bytes read as a host integer, in hex ("0200000A" for
/// 10.0.0.2 on little-endian CPUs, "0A000002" on big-endian ones).
std::string proc_address(int family, const char* text) {
  std::array<std::uint8_t, 16> bytes{};
  inet_pton(family, text, bytes.data());
  std::string hex;
  for (std::size_t at = 0; at < (family == AF_INET ? 4U : 16U); at += 4) {
    std::uint32_t word = 0;
    std::memcpy(&word, bytes.data() + at, 4);
    char digits[9];
    std::snprintf(digits, sizeof digits, "%08X", word);
    hex += digits;
  }
  return hex;
}

}  // namespace

/// Counts states of the records a parser hands out.
struct state_counter {
  tcp_state_counts counts{};
  std::vector<socket_record> records;
  socket_visitor visitor() {
    return [this](const socket_record& r) {
      if (r.state < counts.size()) ++counts[r.state];
      records.push_back(r);
    };
  }
};

TEST_CASE("sock_diag datagrams: states, ports and addresses read, DONE and ERROR recognised") {
  std::vector<std::byte> datagram;
  for (std::uint8_t state : {1, 1, 6, 10, 3}) {
    auto msg = diag_message(AF_INET, state, "10.0.0.2", 2003);
    msg.id.idiag_sport = htons(40000 + state);
    // A listener's accept queue and backlog, in the CPU's byte order.
    msg.idiag_rqueue = state == 10 ? 17 : 0;
    msg.idiag_wqueue = state == 10 ? 16 : 0;
    append_message(datagram, SOCK_DIAG_BY_FAMILY, &msg, sizeof msg);
  }
  state_counter seen;
  auto progress = detail::parse_sock_diag_datagram(datagram, seen.visitor());
  CHECK_FALSE(progress.done);
  CHECK(seen.counts[1] == 2);
  CHECK(seen.counts[6] == 1);
  CHECK(seen.counts[10] == 1);
  CHECK(seen.counts[3] == 1);
  REQUIRE(seen.records.size() == 5);
  CHECK(seen.records[2].local_port == 40006);
  CHECK(seen.records[2].remote_port == 2003);
  destination_usage d{AF_INET, seen.records[2].remote_address, 2003, 1};
  CHECK(d.metric_name() == "10_0_0_2_2003");
  CHECK(seen.records[3].receive_queue == 17);
  CHECK(seen.records[3].send_queue == 16);
  CHECK(seen.records[2].receive_queue == 0);

  std::vector<std::byte> done;
  int zero = 0;
  append_message(done, NLMSG_DONE, &zero, sizeof zero);
  CHECK(detail::parse_sock_diag_datagram(done, seen.visitor()).done);

  std::vector<std::byte> error;
  nlmsgerr err{};
  err.error = -EPERM;
  append_message(error, NLMSG_ERROR, &err, sizeof err);
  auto failed = detail::parse_sock_diag_datagram(error, seen.visitor());
  CHECK(failed.done);
  CHECK(failed.error == EPERM);

  // A truncated datagram must not be read past its end.
  state_counter untouched;
  CHECK_FALSE(
      detail::parse_sock_diag_datagram(std::span(datagram).first(10), untouched.visitor()).done);
  CHECK(untouched.records.empty());
}

TEST_CASE("sock_diag datagrams: the one-walk TCP reply (TCPDIAG_GETSOCK) mixes both families") {
  // The reply to an AF_UNSPEC TCPDIAG_GETSOCK request carries that type and
  // both families; any other message type is not a socket.
  std::vector<std::byte> datagram;
  const auto v4 = diag_message(AF_INET, 6, "10.0.0.2", 2003);
  append_message(datagram, TCPDIAG_GETSOCK, &v4, sizeof v4);
  const auto v6 = diag_message(AF_INET6, 1, "2001:db8::5", 2004);
  append_message(datagram, TCPDIAG_GETSOCK, &v6, sizeof v6);
  append_message(datagram, NLMSG_NOOP, &v6, sizeof v6);
  state_counter seen;
  detail::parse_sock_diag_datagram(datagram, seen.visitor());
  REQUIRE(seen.records.size() == 2);
  CHECK(seen.records[0].family == AF_INET);
  CHECK(seen.records[1].family == AF_INET6);
  CHECK(seen.records[1].remote_port == 2004);
  CHECK(destination_usage{AF_INET6, seen.records[1].remote_address, 2004, 1}.metric_name() ==
        "2001_db8__5_2004");
}

TEST_CASE("/proc/net/tcp lines: state, ports and addresses parsed, header and junk skipped") {
  const std::string text =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
      "   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000011 00:00000000 00000000     0\n"
      "   1: 0100007F:9C40 " +
      proc_address(AF_INET, "10.0.0.2") +
      ":07D3 06 00000000:00000000 03:00000D39 00000000     0\n"
      "   2: 0100007F:9C41 0100007F:0CEA 01 00000000:00000000 00:00000000 00000000     0\n"
      "garbage\n"
      "   9: 0100007F:9C49 0100007F:0CEA 01 0000:0000 00:00000000 00000000     0\n"
      "   9: 0100007F:9C49 0100007F:0CEA 01 00000000:0000000G 00:00000000 00000000     0\n"
      "   9: 0100007F:9C49 0100007F:0CEA 01\n"
      "   3: 0100007F:9C42 0100007F:0CEA 0B 00000000:00000000 00:00000000 00000000     0\n";
  state_counter seen;
  detail::parse_proc_net_lines(text, AF_INET, seen.visitor());
  CHECK(seen.counts[10] == 1);
  CHECK(seen.counts[6] == 1);
  CHECK(seen.counts[1] == 1);
  CHECK(seen.counts[11] == 1);
  REQUIRE(seen.records.size() == 4);
  CHECK(seen.records[1].local_port == 0x9C40);
  CHECK(seen.records[1].remote_port == 2003);
  CHECK(destination_usage{AF_INET, seen.records[1].remote_address, 2003, 1}.metric_name() ==
        "10_0_0_2_2003");
  // tx_queue:rx_queue. A listener's rx_queue is its accept queue; its
  // tx_queue is 0, not the backlog (the kernel prints write_seq - snd_una).
  CHECK(seen.records[0].receive_queue == 17);
  CHECK(seen.records[0].send_queue == 0);

  // IPv6: /proc prints the four 32-bit words in host order. ::1 and 2001:db8::1.
  const std::string text6 =
      "  sl  local_address                         remote_address                        st\n"
      "   0: " +
      proc_address(AF_INET6, "::1") + ":1F90 " + proc_address(AF_INET6, "2001:db8::1") +
      ":07D3 01 000000A0:0000FFFF 0\n";
  state_counter seen6;
  detail::parse_proc_net_lines(text6, AF_INET6, seen6.visitor());
  REQUIRE(seen6.records.size() == 1);
  CHECK(seen6.records[0].local_port == 8080);
  CHECK(seen6.records[0].send_queue == 0xA0);
  CHECK(seen6.records[0].receive_queue == 0xFFFF);
  CHECK(destination_usage{AF_INET6, seen6.records[0].remote_address, 2003, 1}.metric_name() ==
        "2001_db8__1_2003");
}
