// Kernel socket summaries and TCP counters, parsed by name so that new
// kernel fields never shift anything:
//   /proc/net/sockstat, sockstat6   "TCP: inuse 5 orphan 0 tw 3 alloc 7 mem 1"
//                                   -> sockstat.tcp.tw, sockstat.tcp6.inuse, ...
//   /proc/net/netstat, snmp         header/value line pairs per group
//                                   -> netstat.TcpExt.TW, netstat.Tcp.ActiveOpens, ...
// The counters are cumulative; with rates on, netstat_rate.* carries their
// per-second change (none in the first round, none across a counter reset).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sockpush/collect/collector.hpp"

namespace sockpush {

/// The TcpExt/Tcp counters that tell a TIME_WAIT and listen-queue story.
std::vector<std::string> default_netstat_counters();

class sockstat_collector final : public collector {
 public:
  void collect(round_lines& out) override;
  std::string_view name() const override { return "sockstat"; }

 private:
  bool logged_missing_v4_ = false;
  bool logged_missing_v6_ = false;
};

class netstat_collector final : public collector {
 public:
  /// `counters` as "Group.Name" (e.g. "TcpExt.TW").
  netstat_collector(std::vector<std::string> counters, bool rates);
  void collect(round_lines& out) override;
  std::string_view name() const override { return "netstat"; }

 private:
  std::vector<std::string> counters_;
  bool rates_;
  std::map<std::string, std::uint64_t> previous_;
  std::chrono::steady_clock::time_point previous_time_{};
  std::vector<std::string> missing_logged_;
  bool logged_missing_ = false;
};

namespace detail {

/// "TCP: inuse 5 orphan 0" lines -> {"tcp.inuse": 5, "tcp.orphan": 0}.
/// Protocol names are lowercased; unparsable pairs are skipped.
std::map<std::string, std::uint64_t> parse_sockstat(std::string_view text);

/// Pairs of "Group: Name1 Name2" / "Group: v1 v2" lines -> {"Group.Name1": v1, ...}.
/// Negative values (Tcp MaxConn is -1) are skipped.
std::map<std::string, std::uint64_t> parse_header_value_pairs(std::string_view text);

}  // namespace detail
}  // namespace sockpush
