// UDP sockets in the host's network namespace (IPv4 + IPv6), counted from
// sock_diag dumps, or /proc/net/udp{,6} without netlink.
#pragma once

#include "sockpush/collect/collector.hpp"
#include "sockpush/collect/sock_diag.hpp"

namespace sockpush {

class udp_collector final : public collector {
 public:
  explicit udp_collector(bool force_proc = false);
  /// Sockets now. Throws std::system_error if neither source works.
  std::uint64_t count();
  void collect(round_lines& out) override;
  std::string_view name() const override { return "udp"; }

 private:
  socket_table sockets_;
};

}  // namespace sockpush
