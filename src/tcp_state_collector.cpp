#include "sockpush/tcp_state_collector.hpp"

#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace sockpush {
namespace {

/// The kernel hands out at most ~32 KiB per dump datagram; more is wasted.
constexpr std::size_t recv_buffer_bytes = 32 * 1024;
constexpr std::size_t proc_read_bytes = 64 * 1024;

/// States 1..11. Never ~0: kernels from 6.8 add bound-only sockets as bit 13.
constexpr std::uint32_t all_tcp_states = 0xFFEU;

std::string tcp_metric_name(std::size_t state) {
  return "tcp.states." + std::string(tcp_state_names[state]);
}

}  // namespace

namespace detail {

dump_progress count_sock_diag_datagram(std::span<const std::byte> datagram,
                                       tcp_state_counts& counts) {
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
    if (header.nlmsg_type == SOCK_DIAG_BY_FAMILY &&
        header.nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg))) {
      // The state is the second byte of inet_diag_msg; read just that.
      std::uint8_t state = 0;
      std::memcpy(&state, data + NLMSG_HDRLEN + offsetof(inet_diag_msg, idiag_state), 1);
      if (state < counts.size()) ++counts[state];
    }
    const auto step = NLMSG_ALIGN(header.nlmsg_len);
    if (step >= left) break;
    data += step;
    left -= step;
  }
  return progress;
}

void count_proc_net_tcp_lines(std::string_view text, tcp_state_counts& counts) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    // "  12: 0100007F:0CEA 00000000:0000 0A ...": the 4th field is the state in hex.
    std::size_t field = 0;
    std::size_t i = 0;
    std::string_view token;
    while (field < 4 && i < line.size()) {
      while (i < line.size() && line[i] == ' ') ++i;
      auto start = i;
      while (i < line.size() && line[i] != ' ') ++i;
      token = line.substr(start, i - start);
      ++field;
    }
    if (field != 4 || token.size() != 2) continue;  // header or damaged line
    unsigned state = 0;
    bool ok = true;
    for (char c : token) {
      state <<= 4;
      if (c >= '0' && c <= '9') state |= static_cast<unsigned>(c - '0');
      else if (c >= 'A' && c <= 'F') state |= static_cast<unsigned>(c - 'A' + 10);
      else ok = false;
    }
    if (ok && state < counts.size()) ++counts[state];
  }
}

}  // namespace detail

tcp_state_collector::tcp_state_collector(bool force_proc) {
  if (!force_proc) {
    netlink_fd_ = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (netlink_fd_ < 0)
      spdlog::info("sock_diag netlink unavailable ({}); counting TCP states from /proc/net/tcp",
                   std::strerror(errno));
  }
  if (netlink_fd_ >= 0) {
    recv_buffer_.resize(recv_buffer_bytes);
  } else {
    method_ = method::proc;
  }
}

tcp_state_collector::~tcp_state_collector() {
  if (netlink_fd_ >= 0) ::close(netlink_fd_);
}

bool tcp_state_collector::dump_sock_diag(std::uint8_t family, tcp_state_counts& counts) {
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = family;
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = all_tcp_states;

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(netlink_fd_, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0)
    return false;
  for (;;) {
    auto got = ::recv(netlink_fd_, recv_buffer_.data(), recv_buffer_.size(), 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto progress = detail::count_sock_diag_datagram(
        std::span(recv_buffer_.data(), static_cast<std::size_t>(got)), counts);
    if (progress.error != 0) {
      // No IPv6 in this kernel is not a failure: there are no such sockets.
      if (progress.error == ENOENT || progress.error == EAFNOSUPPORT) return true;
      errno = progress.error;
      return false;
    }
    if (progress.done || got == 0) return true;
  }
}

void tcp_state_collector::count_proc(const char* path, tcp_state_counts& counts) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;  // no IPv6
    throw std::system_error(errno, std::generic_category(), path);
  }
  // Large reads: the kernel restarts its table walk on every read().
  proc_carry_.clear();
  std::string chunk(proc_read_bytes, '\0');
  for (;;) {
    auto got = ::read(fd, chunk.data(), chunk.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    proc_carry_.append(chunk.data(), static_cast<std::size_t>(got));
    auto last = proc_carry_.rfind('\n');
    if (last == std::string::npos) continue;
    detail::count_proc_net_tcp_lines(std::string_view(proc_carry_).substr(0, last + 1), counts);
    proc_carry_.erase(0, last + 1);
  }
  detail::count_proc_net_tcp_lines(proc_carry_, counts);
  ::close(fd);
}

tcp_state_counts tcp_state_collector::count() {
  tcp_state_counts counts{};
  if (method_ == method::sock_diag) {
    if (dump_sock_diag(AF_INET, counts) && dump_sock_diag(AF_INET6, counts)) return counts;
    spdlog::warn("sock_diag dump failed ({}); counting TCP states from /proc/net/tcp from now on",
                 std::strerror(errno));
    method_ = method::proc;
    counts = {};
  }
  count_proc("/proc/net/tcp", counts);
  count_proc("/proc/net/tcp6", counts);
  return counts;
}

void tcp_state_collector::collect(round_lines& out) {
  const auto counts = count();
  for (std::size_t state = 1; state < tcp_state_count; ++state)
    out.add(tcp_metric_name(state), counts[state]);
}

}  // namespace sockpush
