#include "sockpush/collect/sock_diag.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <type_traits>

#include "sockpush/collect/proc_files.hpp"

namespace sockpush {
namespace {

/// The kernel hands out at most ~32 KiB per dump datagram; more is wasted.
constexpr std::size_t recv_buffer_bytes = 32 * 1024;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/// Parses fixed-width hex; false on a bad digit.
template <typename T>
bool parse_hex(std::string_view text, T& out) {
  out = 0;
  for (char c : text) {
    int d = hex_digit(c);
    if (d < 0) return false;
    out = static_cast<T>((out << 4) | static_cast<T>(d));
  }
  return !text.empty();
}

/// "0100007F:0CEA" (IPv4) or 32 hex digits ":port" (IPv6). /proc prints the
/// address as the kernel's 32-bit words in host order.
bool parse_proc_endpoint(std::string_view text, std::uint8_t family,
                         std::array<std::uint8_t, 16>& address, std::uint16_t& port) {
  auto colon = text.find(':');
  const std::size_t words = family == AF_INET ? 1 : 4;
  if (colon != words * 8 || !parse_hex(text.substr(colon + 1), port)) return false;
  address = {};
  for (std::size_t w = 0; w < words; ++w) {
    std::uint32_t word = 0;
    if (!parse_hex(text.substr(w * 8, 8), word)) return false;
    std::memcpy(address.data() + w * 4, &word, 4);  // host order word = kernel's bytes
  }
  return true;
}

}  // namespace

namespace detail {

dump_progress parse_sock_diag_datagram(std::span<const std::byte> datagram,
                                       const socket_visitor& visit) {
  dump_progress progress;
  const auto* data = datagram.data();
  std::size_t left = datagram.size();
  while (left >= sizeof(nlmsghdr)) {
    nlmsghdr header;
    std::memcpy(&header, data, sizeof header);
    if (header.nlmsg_len < sizeof(nlmsghdr) || header.nlmsg_len > left) break;
    if (header.nlmsg_type == NLMSG_DONE) {
      progress.done = true;
      break;
    }
    if (header.nlmsg_type == NLMSG_ERROR) {
      nlmsgerr err{};
      if (header.nlmsg_len >= NLMSG_LENGTH(sizeof err))
        std::memcpy(&err, data + NLMSG_HDRLEN, sizeof err);
      progress.error = err.error < 0 ? -err.error : EPROTO;
      progress.done = true;
      break;
    }
    const bool socket_message =
        header.nlmsg_type == SOCK_DIAG_BY_FAMILY || header.nlmsg_type == TCPDIAG_GETSOCK;
    if (socket_message && header.nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg))) {
      inet_diag_msg msg;
      std::memcpy(&msg, data + NLMSG_HDRLEN, sizeof msg);
      socket_record record;
      record.family = msg.idiag_family;
      record.state = msg.idiag_state;
      record.local_port = ntohs(msg.id.idiag_sport);
      record.remote_port = ntohs(msg.id.idiag_dport);
      std::memcpy(record.remote_address.data(), msg.id.idiag_dst,
                  msg.idiag_family == AF_INET ? 4 : 16);
      record.receive_queue = msg.idiag_rqueue;
      record.send_queue = msg.idiag_wqueue;
      visit(record);
    }
    const auto step = NLMSG_ALIGN(header.nlmsg_len);
    if (step >= left) break;
    data += step;
    left -= step;
  }
  return progress;
}

void parse_proc_net_lines(std::string_view text, std::uint8_t family, const socket_visitor& visit) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    // "  12: 0100007F:0CEA 00000000:0000 0A 00000000:00000011 ...": slot,
    // local, remote, state, tx_queue:rx_queue.
    std::array<std::string_view, 5> fields;
    const auto count = split_words(line, fields);
    socket_record record;
    record.family = family;
    std::array<std::uint8_t, 16> local{};
    const auto queues = fields[4];
    if (count != fields.size() || fields[3].size() != 2 || !parse_hex(fields[3], record.state) ||
        !parse_proc_endpoint(fields[1], family, local, record.local_port) ||
        !parse_proc_endpoint(fields[2], family, record.remote_address, record.remote_port) ||
        queues.size() != 17 || queues[8] != ':' ||
        !parse_hex(queues.substr(0, 8), record.send_queue) ||
        !parse_hex(queues.substr(9), record.receive_queue))
      continue;  // header or damaged line
    visit(record);
  }
}

}  // namespace detail

sock_diag_socket::sock_diag_socket() {
  fd_ = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd_ < 0) {
    open_error_ = std::strerror(errno);
    return;
  }
  buffer_.resize(recv_buffer_bytes);
}

sock_diag_socket::~sock_diag_socket() {
  if (fd_ >= 0) ::close(fd_);
}

bool sock_diag_socket::send_request(std::uint8_t family, std::uint8_t protocol,
                                    std::uint32_t states) {
  auto send = [this](const auto& payload, std::uint16_t type) {
    struct {
      nlmsghdr header;
      std::remove_cvref_t<decltype(payload)> request;
    } message{};
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = type;
    message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    message.request = payload;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    return ::sendto(fd_, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel),
                    sizeof kernel) >= 0;
  };
  if (family == AF_UNSPEC) {
    // One walk of the kernel's TCP table for both families: only the older
    // TCPDIAG_GETSOCK request takes AF_UNSPEC (SOCK_DIAG_BY_FAMILY dispatches
    // on the family). The walk dominates a round's cost, so this halves it.
    inet_diag_req both{};
    both.idiag_family = AF_UNSPEC;
    both.idiag_states = states;
    return send(both, TCPDIAG_GETSOCK);
  }
  inet_diag_req_v2 one{};
  one.sdiag_family = family;
  one.sdiag_protocol = protocol;
  one.idiag_states = states;
  return send(one, SOCK_DIAG_BY_FAMILY);
}

bool sock_diag_socket::dump(std::uint8_t family, std::uint8_t protocol, std::uint32_t states,
                            const socket_visitor& visit) {
  unsupported_ = false;
  if (!send_request(family, protocol, states)) return false;
  for (;;) {
    auto got = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto progress = detail::parse_sock_diag_datagram(
        std::span(buffer_.data(), static_cast<std::size_t>(got)), visit);
    if (progress.error != 0) {
      // No IPv6 (or no UDP diag module) in this kernel: no such sockets.
      if (progress.error == ENOENT || progress.error == EAFNOSUPPORT) {
        unsupported_ = true;
        return true;
      }
      errno = progress.error;
      return false;
    }
    if (progress.done || got == 0) return true;
  }
}

void read_proc_net(const char* path, std::uint8_t family, const socket_visitor& visit) {
  bool opened = read_complete_lines(
      path, [&](std::string_view lines) { detail::parse_proc_net_lines(lines, family, visit); });
  if (!opened && errno != ENOENT)  // no file: no IPv6
    throw std::system_error(errno, std::generic_category(), path);
}

socket_table::socket_table(std::uint8_t protocol, bool force_proc) : protocol_(protocol) {
  if (force_proc || !netlink_.available()) {
    if (!force_proc)
      spdlog::info("sock_diag netlink unavailable ({}); counting {} sockets from /proc/net",
                   netlink_.open_error(), protocol_ == IPPROTO_TCP ? "TCP" : "UDP");
    source_ = source::proc;
  }
}

void socket_table::visit(std::uint32_t states, const socket_visitor& visit,
                         const std::function<void()>& start_over) {
  const bool tcp = protocol_ == IPPROTO_TCP;
  if (source_ == source::sock_diag) {
    // TCP in one request for both families; UDP per family (a kernel
    // without IPv6 answers its dump "unsupported": no such sockets).
    const bool ok = netlink_.dump(tcp ? AF_UNSPEC : AF_INET, protocol_, states, visit);
    // Without the tcp_diag or udp_diag module the kernel answers
    // "unsupported" to the first request too, which would read as no sockets.
    const bool no_diag_module = ok && netlink_.last_unsupported();
    if (ok && !no_diag_module && (tcp || netlink_.dump(AF_INET6, protocol_, states, visit))) return;
    if (no_diag_module)
      spdlog::info("no {}_diag in this kernel; counting {} sockets from /proc/net/{}",
                   tcp ? "tcp" : "udp", tcp ? "TCP" : "UDP", tcp ? "tcp" : "udp");
    else
      spdlog::warn("sock_diag dump failed ({}); counting {} sockets from /proc/net/{} from now on",
                   std::strerror(errno), tcp ? "TCP" : "UDP", tcp ? "tcp" : "udp");
    source_ = source::proc;
    start_over();
  }
  read_proc_net(tcp ? "/proc/net/tcp" : "/proc/net/udp", AF_INET, visit);
  read_proc_net(tcp ? "/proc/net/tcp6" : "/proc/net/udp6", AF_INET6, visit);
}

}  // namespace sockpush
