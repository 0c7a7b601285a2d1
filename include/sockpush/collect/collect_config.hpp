// What a user can set for the built-in collectors ([collectors]) and the
// clock-sanity hold ([clock]).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sockpush {

/// A named set of peer networks whose sockets are counted per state
/// ([collectors] tcp_remote_subnets).
struct remote_subnet {
  std::string name;
  std::vector<std::string> prefixes;  ///< "10.1.0.0/16", "fd00:8::/64"
  bool operator==(const remote_subnet&) const = default;
};

/// What the built-in collectors gather ([collectors]).
struct collectors_config {
  std::vector<std::uint16_t> tcp_local_ports;
  std::vector<std::uint16_t> tcp_remote_ports;
  bool tcp_listening_ports = false;
  bool tcp_listen_queues = true;
  std::vector<remote_subnet> tcp_remote_subnets;
  bool ephemeral = true;
  std::size_t ephemeral_top = 5;
  bool udp = true;
  bool sockstat = true;
  bool netstat = true;
  /// "Group.Name" counters; empty means the built-in list.
  std::vector<std::string> netstat_counters;
  bool netstat_rates = false;
  bool conntrack = true;
  std::size_t conntrack_top_ports = 5;
  bool settings = true;
  bool operator==(const collectors_config&) const = default;
};

/// When this binary was built (Unix time; SOURCE_DATE_EPOCH if set then).
std::int64_t build_epoch();

/// Routers without a real-time clock boot in 1970 ([clock]).
struct clock_config {
  /// Rounds collected while the system clock reads earlier than this (Unix
  /// time) are held and sent with corrected timestamps once it is set.
  /// Default: when this binary was built.
  std::int64_t not_before = build_epoch();
  /// Also hold while the kernel says the clock is not NTP-synchronised.
  bool require_sync = false;
  bool operator==(const clock_config&) const = default;
};

}  // namespace sockpush
