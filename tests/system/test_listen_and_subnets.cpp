// Listen queues and states per remote subnet against the kernel: real
// sockets in a private network namespace, compared with what ss shows for
// the same sockets at the same moment.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <sstream>

#include "sockpush/collect/round_lines.hpp"
#include "sockpush/collect/tcp_state_collector.hpp"
#include "support/process.hpp"

using namespace sockpush;
using namespace std::chrono_literals;

namespace {

/// "127.0.0.1", "::1" or "::ffff:10.1.2.3" and a port as a socket address.
struct endpoint {
  sockaddr_storage storage{};
  socklen_t size = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

endpoint endpoint_of(const std::string& address, std::uint16_t port) {
  endpoint e;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&e.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.storage);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    e.size = sizeof *v4;
  } else {
    REQUIRE_MESSAGE(inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1, address);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    e.size = sizeof *v6;
  }
  return e;
}

/// A non-blocking listening socket; an IPv6 one on :: also takes IPv4 peers,
/// as ::ffff:a.b.c.d.
int listen_on(const std::string& address, std::uint16_t port, int backlog) {
  const auto at = endpoint_of(address, port);
  int fd = test::must(socket(at.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), "socket");
  int on = 1, off = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (at.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  test::must(bind(fd, at.get(), at.size), "bind listener");
  test::must(listen(fd, backlog), "listen");
  return fd;
}

/// A non-blocking connect from `source` (any port) to `to`; the socket stays open.
int connect_from(const std::string& source, const endpoint& to) {
  const auto from = endpoint_of(source, 0);
  int fd = test::must(socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), "socket");
  test::must(bind(fd, from.get(), from.size), "bind client");
  if (connect(fd, to.get(), to.size) != 0 && errno != EINPROGRESS) test::must(-1, "connect");
  return fd;
}

/// Accepts one connection within a second (the handshake runs on lo).
int accept_one(int listener) {
  int fd = -1;
  test::wait_until([&] { return (fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)) >= 0; },
                   1000ms);
  REQUIRE_MESSAGE(fd >= 0, "no connection to accept");
  return fd;
}

/// The tool's lines of one round, as they would go to carbon (no prefix).
std::string round_of(tcp_state_collector& tcp) {
  std::string text;
  round_lines out(text, "t", 1);
  tcp.collect(out);
  return text;
}

/// The value of `name` in a round's lines, or -1 if it is not there.
double value_in(const std::string& lines, const std::string& name) {
  for (const auto& line : test::split_lines(lines)) {
    std::istringstream words(line);
    std::string path;
    double value = 0;
    if (words >> path >> value && path.size() > name.size() &&
        path.compare(path.size() - name.size(), name.size(), name) == 0 &&
        path[path.size() - name.size() - 1] == '.')
      return value;
  }
  return -1;
}

/// ss -ltn's Recv-Q and Send-Q for the listener on `address`:`port`.
std::pair<long, long> ss_listen_queues(const std::string& address, std::uint16_t port) {
  const auto out =
      test::run_capture("ss -Hltn 'src " + address + " and sport = :" + std::to_string(port) + "'");
  std::istringstream words(out);
  std::string state;
  long recv_q = -1, send_q = -1;
  words >> state >> recv_q >> send_q;
  return {recv_q, send_q};
}

}  // namespace

TEST_CASE("kernel: listen queues match ss -ltn, through sock_diag and /proc, full and drained") {
  auto why = test::enter_private_network_namespace();
  REQUIRE_MESSAGE(why.empty(), why);
  constexpr std::uint16_t port = 5600, port6 = 5601;
  const int listener = listen_on("127.0.0.1", port, 16);
  const int listener6 = listen_on("::1", port6, 4);
  // The same port on another address, with a larger backlog and nothing
  // queued yet: the port's figures are its fullest listener's (and, when
  // both are empty, the one with the smaller backlog: the fuller in percent).
  const int idle_listener = listen_on("127.0.0.2", port, 64);
  // 40 connects to a backlog of 16 that is never served: the kernel queues
  // 17 (it refuses only once the queue exceeds the backlog) and drops the
  // other SYNs, whose clients wait in SYN_SENT to retry.
  std::vector<int> clients;
  for (int i = 0; i < 40; ++i)
    clients.push_back(connect_from("127.0.0.1", endpoint_of("127.0.0.1", port)));
  for (int i = 0; i < 3; ++i) clients.push_back(connect_from("::1", endpoint_of("::1", port6)));
  REQUIRE(
      test::wait_until([&] { return ss_listen_queues("127.0.0.1", port).first == 17; }, 2000ms));

  tcp_state_collector netlink;
  REQUIRE(netlink.source() == socket_table::source::sock_diag);
  tcp_state_collector proc({}, true);
  const auto [recv_q, send_q] = ss_listen_queues("127.0.0.1", port);
  const auto [recv_q6, send_q6] = ss_listen_queues("[::1]", port6);
  const auto full = round_of(netlink);
  const auto full_proc = round_of(proc);
  MESSAGE("ss -ltn: Recv-Q " << recv_q << " Send-Q " << send_q << " (IPv6: " << recv_q6 << " "
                             << send_q6 << "); sock_diag accept_queue "
                             << value_in(full, "tcp.listen.5600.accept_queue") << " backlog "
                             << value_in(full, "tcp.listen.5600.backlog") << " fill "
                             << value_in(full, "tcp.listen.5600.fill_percent")
                             << "; /proc accept_queue "
                             << value_in(full_proc, "tcp.listen.5600.accept_queue"));
  CHECK(recv_q == 17);
  CHECK(send_q == 16);
  CHECK(ss_listen_queues("127.0.0.2", port) == std::pair<long, long>{0, 64});
  CHECK(value_in(full, "tcp.listen.5600.accept_queue") == recv_q);
  CHECK(value_in(full, "tcp.listen.5600.backlog") == send_q);
  CHECK(value_in(full, "tcp.listen.5600.fill_percent") == 106.25);
  CHECK(value_in(full, "tcp.listen.5601.accept_queue") == recv_q6);
  CHECK(value_in(full, "tcp.listen.5601.backlog") == send_q6);
  CHECK(value_in(full, "tcp.listen.max_fill_percent") == 106.25);
  // /proc/net/tcp has the accept queue (rx_queue) but no backlog.
  CHECK(value_in(full_proc, "tcp.listen.5600.accept_queue") == recv_q);
  CHECK(value_in(full_proc, "tcp.listen.5601.accept_queue") == recv_q6);
  CHECK(value_in(full_proc, "tcp.listen.5600.backlog") == -1);
  CHECK(value_in(full_proc, "tcp.listen.max_fill_percent") == -1);

  // Now the listeners accept everything queued. The clients go first, so
  // that the SYNs dropped above are not retried into the emptied queue
  // while the tools look.
  for (int fd : clients) close(fd);
  const auto queued = static_cast<std::size_t>(recv_q + recv_q6);
  std::vector<int> accepted;
  test::wait_until(
      [&] {
        for (int listening : {listener, listener6})
          for (int fd; (fd = accept4(listening, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;)
            accepted.push_back(fd);
        return accepted.size() == queued;
      },
      2000ms);
  REQUIRE(accepted.size() == queued);
  const auto [drained_recv_q, drained_send_q] = ss_listen_queues("127.0.0.1", port);
  const auto drained = round_of(netlink);
  const auto drained_proc = round_of(proc);
  MESSAGE("after accepting all " << accepted.size() << ": ss -ltn Recv-Q " << drained_recv_q
                                 << " Send-Q " << drained_send_q << "; sock_diag "
                                 << value_in(drained, "tcp.listen.5600.accept_queue") << " / "
                                 << value_in(drained, "tcp.listen.5600.backlog") << "; /proc "
                                 << value_in(drained_proc, "tcp.listen.5600.accept_queue"));
  CHECK(drained_recv_q == 0);
  CHECK(drained_send_q == 16);
  CHECK(value_in(drained, "tcp.listen.5600.accept_queue") == 0);
  CHECK(value_in(drained, "tcp.listen.5600.backlog") == 16);
  CHECK(value_in(drained, "tcp.listen.5600.fill_percent") == 0);
  CHECK(value_in(drained, "tcp.listen.max_fill_percent") == 0);
  CHECK(value_in(drained_proc, "tcp.listen.5600.accept_queue") == 0);

  // Now the other listener of the port is the fuller one: whichever order
  // the kernel lists the two in, one of these rounds catches a rule that
  // takes the first or the last listener instead of the fullest.
  const auto route = test::run_capture("ip route get 127.0.0.2");
  REQUIRE_MESSAGE(route.find(" dev lo ") != std::string::npos, route);
  std::vector<int> other_clients;
  for (int i = 0; i < 3; ++i)
    other_clients.push_back(connect_from("127.0.0.1", endpoint_of("127.0.0.2", port)));
  REQUIRE(test::wait_until([&] { return ss_listen_queues("127.0.0.2", port).first == 3; }, 2000ms));
  const auto other = round_of(netlink);
  MESSAGE("3 connects to the same port on 127.0.0.2 (backlog 64): sock_diag "
          << value_in(other, "tcp.listen.5600.accept_queue") << " / "
          << value_in(other, "tcp.listen.5600.backlog"));
  CHECK(value_in(other, "tcp.listen.5600.accept_queue") == 3);
  CHECK(value_in(other, "tcp.listen.5600.backlog") == 64);
  CHECK(value_in(other, "tcp.listen.max_fill_percent") == 4.69);  // 3 / 64, rounded
  for (int fd : other_clients) close(fd);
  for (int fd : accepted) close(fd);
  close(idle_listener);
  close(listener);
  close(listener6);
}

namespace {

/// The subnets as the daemon's config gives them; "mapped" in its IPv4-mapped
/// IPv6 form, which must behave as 10.2.0.0/16.
const std::vector<remote_subnet> subnets = {{"office", {"10.1.0.0/16"}},
                                            {"lab", {"10.1.2.0/24", "fd00:8:0:2::/64"}},
                                            {"host", {"10.1.2.3/32", "fd00:8::7/128"}},
                                            {"vpn", {"fd00:8::/48"}},
                                            {"mapped", {"::ffff:10.2.0.0/112"}},
                                            {"docs", {"192.0.2.0/24"}}};

/// The oracle: per subnet and ss state name, the sockets `ss -tan` shows,
/// matched by the obvious rule (every prefix tried, the longest kept) on
/// the peer text. Written apart from the collector's table on purpose.
std::map<std::string, std::map<std::string, std::uint64_t>> ss_counts_per_subnet() {
  struct prefix {
    std::string name;
    int family;
    std::array<std::uint8_t, 16> bytes;
    int length;
  };
  std::vector<prefix> prefixes;
  const std::vector<std::pair<std::string, std::string>> plain = {
      {"office", "10.1.0.0/16"}, {"lab", "10.1.2.0/24"},    {"lab", "fd00:8:0:2::/64"},
      {"host", "10.1.2.3/32"},   {"host", "fd00:8::7/128"}, {"vpn", "fd00:8::/48"},
      {"mapped", "10.2.0.0/16"}, {"docs", "192.0.2.0/24"}};
  for (const auto& [name, cidr] : plain) {
    prefix p{name, cidr.find(':') == std::string::npos ? AF_INET : AF_INET6, {}, 0};
    inet_pton(p.family, cidr.substr(0, cidr.find('/')).c_str(), p.bytes.data());
    p.length = std::stoi(cidr.substr(cidr.find('/') + 1));
    prefixes.push_back(p);
  }
  std::map<std::string, std::map<std::string, std::uint64_t>> counts;
  int code = 0;
  const auto out = test::run_capture("ss -Htan", &code);
  REQUIRE(code == 0);
  for (const auto& line : test::split_lines(out)) {
    std::istringstream words(line);
    std::string state, recv_q, send_q, local, peer;
    words >> state >> recv_q >> send_q >> local >> peer;
    const auto colon = peer.rfind(':');
    if (colon == std::string::npos || peer.substr(colon + 1) == "*") continue;  // no peer
    auto host = peer.substr(0, colon);
    if (host.front() == '[') host = host.substr(1, host.size() - 2);
    if (host.rfind("::ffff:", 0) == 0 && host.find('.') != std::string::npos) host = host.substr(7);
    const int family = host.find(':') == std::string::npos ? AF_INET : AF_INET6;
    std::array<std::uint8_t, 16> bytes{};
    REQUIRE_MESSAGE(inet_pton(family, host.c_str(), bytes.data()) == 1, line);
    const prefix* best = nullptr;
    for (const auto& p : prefixes) {
      if (p.family != family) continue;
      bool inside = true;
      for (int bit = 0; bit < p.length && inside; ++bit)
        inside = ((bytes[bit / 8] ^ p.bytes[bit / 8]) & (0x80 >> (bit % 8))) == 0;
      if (inside && (!best || p.length > best->length)) best = &p;
    }
    if (best) ++counts[best->name][state];
  }
  return counts;
}

/// ss's name for each kernel state, as tcp_state_names orders them.
const std::map<std::string, std::string> ss_state_of = {
    {"established", "ESTAB"},    {"syn_sent", "SYN-SENT"},     {"syn_recv", "SYN-RECV"},
    {"fin_wait1", "FIN-WAIT-1"}, {"fin_wait2", "FIN-WAIT-2"},  {"time_wait", "TIME-WAIT"},
    {"close", "UNCONN"},         {"close_wait", "CLOSE-WAIT"}, {"last_ack", "LAST-ACK"},
    {"closing", "CLOSING"}};

}  // namespace

TEST_CASE("kernel: states per remote subnet equal an oracle over ss -tan, IPv4, IPv6 and mapped") {
  auto why = test::enter_private_network_namespace();
  REQUIRE_MESSAGE(why.empty(), why);
  // Peers inside and outside overlapping subnets, all on this namespace's lo.
  const std::vector<std::string> v4 = {"10.1.2.3",  "10.1.2.9", "10.1.7.7", "10.2.0.5",
                                       "192.0.2.1", "10.9.0.1", "127.0.0.1"};
  const std::vector<std::string> v6 = {"fd00:8::7", "fd00:8:0:2::1", "fd00:8::9", "fd00:9::1",
                                       "::1"};
  for (const auto& a : v4) test::run_capture("ip addr add " + a + "/32 dev lo 2>&1");
  for (const auto& a : v6) test::run_capture("ip addr add " + a + "/128 dev lo nodad 2>&1");
  for (const auto& a : v4) {
    const auto route = test::run_capture("ip route get " + a);
    REQUIRE_MESSAGE(route.find(" dev lo ") != std::string::npos, a << ": " << route);
  }
  for (const auto& a : v6) {
    const auto route = test::run_capture("ip -6 route get " + a);
    REQUIRE_MESSAGE(route.find(" dev lo ") != std::string::npos, a << ": " << route);
  }
  constexpr std::uint16_t v4_port = 5700, dual_port = 5701, dropped_port = 5702;
  const int v4_listener = listen_on("0.0.0.0", v4_port, 256);
  const int dual_listener = listen_on("::", dual_port, 256);
  test::packet_blackhole dropped(dropped_port);  // its connects stay in SYN_SENT

  // For each pair of (source, destination) of one family, one socket pair
  // each of: ESTABLISHED both ways; TIME_WAIT (the client closes first, the
  // server then too); FIN_WAIT2 / CLOSE_WAIT (only the client closes); and
  // a SYN_SENT to the dropped port. Mapped: IPv6 clients to ::ffff:a.b.c.d
  // on the IPv4 listener, IPv4 clients to the dual-stack one.
  std::vector<int> kept;
  auto one_of_each = [&](const std::string& source, const std::string& destination, int listener,
                         std::uint16_t port) {
    const auto to = endpoint_of(destination, port);
    kept.push_back(connect_from(source, to));
    kept.push_back(accept_one(listener));
    int closing = connect_from(source, to);
    kept.push_back(accept_one(listener));
    close(closing);  // FIN_WAIT2 here, CLOSE_WAIT at the server
    int time_wait = connect_from(source, to);
    int server = accept_one(listener);
    close(time_wait);
    close(server);
    kept.push_back(connect_from(source, endpoint_of(destination, dropped_port)));
  };
  for (std::size_t i = 0; i < v4.size(); ++i)
    one_of_each(v4[(i + 1) % v4.size()], v4[i], v4_listener, v4_port);
  for (std::size_t i = 0; i < v6.size(); ++i)
    one_of_each(v6[(i + 1) % v6.size()], v6[i], dual_listener, dual_port);
  for (const auto& a : {"10.1.2.3", "10.2.0.5", "192.0.2.1", "10.9.0.1"}) {
    one_of_each("::ffff:" + std::string(a), "::ffff:10.1.7.7", v4_listener, v4_port);
    one_of_each(a, "10.2.0.5", dual_listener, dual_port);
  }
  // Let the FINs and the last ACKs settle.
  REQUIRE(test::wait_until(
      [] { return test::run_capture("ss -Htan state fin-wait-1 state last-ack").empty(); },
      2000ms));

  tcp_collector_options options;
  options.remote_subnets = subnets;
  tcp_state_collector netlink(options);
  tcp_state_collector proc(options, true);
  const auto oracle = ss_counts_per_subnet();
  netlink.scan();
  proc.scan();
  test::temp_dir dir;
  std::string config = "[carbon]\naddress = \"-\"\n[collectors]\ntcp_remote_subnets = {";
  for (const auto& s : subnets)
    config += (s.name == subnets.front().name ? " " : ", ") + s.name + " = [\"" +
              s.prefixes.front() + (s.prefixes.size() > 1 ? "\", \"" + s.prefixes.back() : "") +
              "\"]";
  config += " }\n";
  test::write_file(dir / "sockpush.toml", config);
  test::child once(
      test::daemon_command({.config = dir / "sockpush.toml", .prefix = "ns", .once = true}),
      dir / "out");
  REQUIRE(once.wait(20000ms) == 0);
  const auto reported = test::read_file(dir / "out");
  REQUIRE(oracle == ss_counts_per_subnet());  // nothing changed while the tools counted

  std::uint64_t in_subnets = 0;
  for (std::size_t i = 0; i < subnets.size(); ++i) {
    const auto& name = subnets[i].name;
    std::string seen;
    for (std::size_t state = 1; state < tcp_state_count; ++state) {
      const std::string state_name(tcp_state_names[state]);
      if (state_name == "listen") continue;
      const auto it = oracle.find(name);
      const std::uint64_t expected =
          it == oracle.end() || !it->second.contains(ss_state_of.at(state_name))
              ? 0
              : it->second.at(ss_state_of.at(state_name));
      in_subnets += expected;
      if (expected) seen += " " + state_name + "=" + std::to_string(expected);
      CHECK_MESSAGE(netlink.remote_subnet_counts()[i][state] == expected,
                    name << " " << state_name);
      CHECK_MESSAGE(proc.remote_subnet_counts()[i][state] == expected, name << " " << state_name);
      CHECK_MESSAGE(value_in(reported, "tcp.remote_subnet." + name + "." + state_name) ==
                        static_cast<double>(expected),
                    "--once " << name << " " << state_name);
    }
    MESSAGE(name << " (ss oracle = sock_diag = /proc = --once):" << seen);
  }
  // Every subnet holds sockets in four states, and some sockets fall outside.
  for (const auto& s : subnets) {
    const auto it = oracle.find(s.name);
    CHECK_MESSAGE((it != oracle.end() && it->second.size() >= 4), s.name);
  }
  std::uint64_t with_peer = 0;
  for (std::size_t state = 1; state < tcp_state_count; ++state)
    if (tcp_state_names[state] != "listen") with_peer += netlink.states()[state];
  MESSAGE(in_subnets << " of " << with_peer << " sockets with a peer are in a subnet");
  CHECK(with_peer > in_subnets);
  for (int fd : kept) close(fd);
  close(v4_listener);
  close(dual_listener);
}
