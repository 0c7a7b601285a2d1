// The kernel's socket tables, one socket at a time: NETLINK_SOCK_DIAG dumps
// (binary, filtered by state in the kernel, one reused receive buffer) and,
// where netlink is unavailable, /proc/net/{tcp,udp}{,6}. Collectors see both
// as the same socket_record.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sockpush {

struct socket_record {
  std::uint8_t family = 0;  ///< AF_INET or AF_INET6
  std::uint8_t state = 0;   ///< kernel TCP state number (UDP: 1 connected, 7 not)
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  /// Network byte order; IPv4 uses the first 4 bytes.
  std::array<std::uint8_t, 16> remote_address{};
  /// sock_diag's idiag_rqueue and idiag_wqueue, /proc's rx_queue and
  /// tx_queue. For a listener, receive_queue is its accept queue and (from
  /// sock_diag only: /proc shows 0) send_queue its backlog, as ss -l shows.
  std::uint32_t receive_queue = 0;
  std::uint32_t send_queue = 0;
};

using socket_visitor = std::function<void(const socket_record&)>;

/// States 1..11. Never ~0: kernels from 6.8 add bound-only sockets as bit 13.
inline constexpr std::uint32_t all_socket_states = 0xFFEU;

/// A NETLINK_SOCK_DIAG socket for repeated dumps.
class sock_diag_socket {
 public:
  sock_diag_socket();
  ~sock_diag_socket();
  sock_diag_socket(const sock_diag_socket&) = delete;
  sock_diag_socket& operator=(const sock_diag_socket&) = delete;

  /// False if the kernel offers no sock_diag (errno text in open_error()).
  bool available() const { return fd_ >= 0; }
  const std::string& open_error() const { return open_error_; }

  /// Dumps the sockets of one family and protocol in `states`; AF_UNSPEC
  /// (TCP only) dumps both families in one walk of the kernel's table. A family or
  /// protocol the kernel lacks (no IPv6, no udp_diag module) yields no
  /// records and success, with last_unsupported() set. Returns false with
  /// errno set when the dump fails.
  bool dump(std::uint8_t family, std::uint8_t protocol, std::uint32_t states,
            const socket_visitor& visit);
  bool last_unsupported() const { return unsupported_; }

 private:
  bool send_request(std::uint8_t family, std::uint8_t protocol, std::uint32_t states);

  int fd_ = -1;
  std::string open_error_;
  std::vector<std::byte> buffer_;
  bool unsupported_ = false;
};

/// One protocol's sockets of both families: sock_diag dumps where the kernel
/// has them, else /proc/net/{tcp,udp}{,6} (from the first failure on, for good).
class socket_table {
 public:
  enum class source { sock_diag, proc };

  /// `protocol`: IPPROTO_TCP or IPPROTO_UDP. `force_proc` skips netlink
  /// (tests of the fallback).
  explicit socket_table(std::uint8_t protocol, bool force_proc = false);

  /// Visits every socket in `states` once. When netlink fails part way,
  /// `start_over` runs before the /proc files are read from the start.
  /// Throws std::system_error if neither source works.
  void visit(std::uint32_t states, const socket_visitor& visit,
             const std::function<void()>& start_over);

  source from() const { return source_; }

 private:
  sock_diag_socket netlink_;
  std::uint8_t protocol_;
  source source_ = source::sock_diag;
};

/// Reads /proc/net/tcp, tcp6, udp or udp6 as records. A missing file (no
/// IPv6) yields nothing; other errors throw std::system_error.
void read_proc_net(const char* path, std::uint8_t family, const socket_visitor& visit);

namespace detail {

/// Result of feeding one recv() worth of netlink dump messages.
struct dump_progress {
  bool done = false;  ///< NLMSG_DONE seen.
  int error = 0;      ///< errno from an NLMSG_ERROR, 0 if none.
};

/// Parses one netlink datagram of inet_diag_msg replies.
dump_progress parse_sock_diag_datagram(std::span<const std::byte> datagram,
                                       const socket_visitor& visit);

/// Parses complete lines of /proc/net/{tcp,udp}{,6} text (header line and
/// lines that do not parse are skipped).
void parse_proc_net_lines(std::string_view complete_lines, std::uint8_t family,
                          const socket_visitor& visit);

}  // namespace detail
}  // namespace sockpush
