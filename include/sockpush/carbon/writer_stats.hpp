// What a writer reports about its deliveries (self-metrics), apart from any
// I/O: the delivery state machine keeps these too.
#pragma once

#include <cstdint>
#include <string>

namespace sockpush {

/// Self-metrics every writer keeps; cumulative since start.
struct writer_stats {
  std::uint64_t sent_lines = 0;      ///< Lines handed to the peer's kernel (or stdout).
  std::uint64_t reconnects = 0;      ///< Connections re-established after one was lost or failed.
  std::uint64_t replayed_lines = 0;  ///< Lines sent again after a connection failed.
  /// Connections that ended, by reason.
  std::uint64_t closed_by_peer = 0, reset = 0, timed_out = 0, stalled = 0, other_failures = 0;

  /// Adds another writer's counts (a sharded writer reports the sum).
  writer_stats& operator+=(const writer_stats& other) {
    sent_lines += other.sent_lines;
    reconnects += other.reconnects;
    replayed_lines += other.replayed_lines;
    closed_by_peer += other.closed_by_peer;
    reset += other.reset;
    timed_out += other.timed_out;
    stalled += other.stalled;
    other_failures += other.other_failures;
    return *this;
  }
};

/// The live connection as the kernel sees it (tcp_info), for self-metrics.
struct connection_info {
  bool connected = false;
  double rtt_ms = 0;
  std::uint64_t retransmits = 0;    ///< segments retransmitted on this connection
  std::uint64_t unacked_bytes = 0;  ///< written, not yet acknowledged (SIOCOUTQ)
};

/// One carbon destination's share of the work, for per-destination metrics.
struct destination_stats {
  std::string name;  ///< carbon_destination::metric_name()
  std::uint64_t sent_lines = 0;
  std::uint64_t reconnects = 0;
  bool connected = false;
};

}  // namespace sockpush
