// Connection tracking, where a router sees its LAN hosts' connection storms
// (they never show in its own socket table): the table's fill level from
// /proc/sys/net/netfilter, and, where /proc/net/nf_conntrack is readable,
// entries per TCP state (TIME_WAIT above all) and the busiest destination
// ports. Without the conntrack module the collector logs once and sends
// nothing.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sockpush/collect/collector.hpp"

namespace sockpush {

struct conntrack_summary {
  /// Entries per TCP conntrack state name, lowercased ("time_wait", ...).
  std::map<std::string, std::uint64_t> tcp_states;
  /// Entries per original-direction destination port (TCP and UDP).
  std::map<std::uint16_t, std::uint64_t> destination_ports;
};

class conntrack_collector final : public collector {
 public:
  explicit conntrack_collector(std::size_t top_ports = 5) : top_ports_(top_ports) {}
  void collect(round_lines& out) override;
  std::string_view name() const override { return "conntrack"; }

 private:
  std::size_t top_ports_;
  bool logged_missing_ = false;
  bool logged_no_table_ = false;
};

namespace detail {
/// Parses /proc/net/nf_conntrack lines ("ipv4 2 tcp 6 117 TIME_WAIT src=.. dst=.. sport=..
/// dport=2003 ...").
void parse_conntrack_lines(std::string_view text, conntrack_summary& summary);
}  // namespace detail

}  // namespace sockpush
