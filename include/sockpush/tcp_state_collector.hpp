// Counts TCP sockets per state in the host's network namespace.
//
// Primary source: NETLINK_SOCK_DIAG dumps (one for AF_INET, one for
// AF_INET6) into one reused receive buffer, counting each message's state
// byte: no per-socket allocation, no text parsing. Fallback when netlink is
// unavailable (kernel without inet_diag): /proc/net/tcp and tcp6.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sockpush/collector.hpp"

namespace sockpush {

/// Kernel TCP state numbers (include/net/tcp_states.h) 1..11 index the array.
inline constexpr std::size_t tcp_state_count = 12;
using tcp_state_counts = std::array<std::uint64_t, tcp_state_count>;

/// Metric name of each state, indexed by the kernel's number; [0] is unused.
inline constexpr std::array<std::string_view, tcp_state_count> tcp_state_names = {
    "",          "established", "syn_sent", "syn_recv",   "fin_wait1", "fin_wait2",
    "time_wait", "close",       "close_wait", "last_ack", "listen",    "closing"};

class tcp_state_collector final : public collector {
 public:
  enum class method { sock_diag, proc };

  /// Tries netlink first; `force_proc` skips it (tests of the fallback).
  explicit tcp_state_collector(bool force_proc = false);
  ~tcp_state_collector() override;
  tcp_state_collector(const tcp_state_collector&) = delete;
  tcp_state_collector& operator=(const tcp_state_collector&) = delete;

  /// Counts all states now. Throws std::system_error if neither source works.
  tcp_state_counts count();

  void collect(round_lines& out) override;
  std::string_view name() const override { return "tcp_states"; }

  method source() const { return method_; }

 private:
  bool dump_sock_diag(std::uint8_t family, tcp_state_counts& counts);
  void count_proc(const char* path, tcp_state_counts& counts);

  int netlink_fd_ = -1;
  method method_ = method::sock_diag;
  std::vector<std::byte> recv_buffer_;
  std::string proc_carry_;
};

namespace detail {

/// Result of feeding one recv() worth of netlink dump messages.
struct dump_progress {
  bool done = false;  ///< NLMSG_DONE seen.
  int error = 0;      ///< errno from an NLMSG_ERROR, 0 if none.
};

/// Counts the inet_diag_msg states in one netlink datagram.
dump_progress count_sock_diag_datagram(std::span<const std::byte> datagram,
                                       tcp_state_counts& counts);

/// Counts states in complete lines of /proc/net/tcp{,6} text (header line
/// skipped; lines that do not parse are ignored).
void count_proc_net_tcp_lines(std::string_view complete_lines, tcp_state_counts& counts);

}  // namespace detail
}  // namespace sockpush
