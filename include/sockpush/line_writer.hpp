// The consumer side of the buffer: something that delivers buffered lines
// somewhere (carbon over TCP, or stdout for previews).
#pragma once

#include <chrono>
#include <cstdint>

#include "sockpush/asio.hpp"

namespace sockpush {

/// Self-metrics every writer keeps; cumulative since start.
struct writer_stats {
  std::uint64_t sent_lines = 0;      ///< Lines handed to the peer's kernel (or stdout).
  std::uint64_t reconnects = 0;      ///< Connections re-established after one was lost or failed.
  std::uint64_t replayed_lines = 0;  ///< Lines sent again after a connection failed.
  /// Connections that ended, by reason.
  std::uint64_t closed_by_peer = 0, reset = 0, timed_out = 0, stalled = 0, other_failures = 0;
};

/// The live connection as the kernel sees it (tcp_info), for self-metrics.
struct connection_info {
  bool connected = false;
  double rtt_ms = 0;
  std::uint64_t retransmits = 0;    ///< segments retransmitted on this connection
  std::uint64_t unacked_bytes = 0;  ///< written, not yet acknowledged (SIOCOUTQ)
};

class line_writer {
 public:
  virtual ~line_writer() = default;

  /// The writer's whole life; returns once finish() was called and the
  /// buffer is delivered or the deadline has passed.
  virtual asio::awaitable<void> run() = 0;

  /// New lines are in the buffer.
  virtual void wake() = 0;

  /// Stop waiting for more input: deliver what is buffered by `deadline`,
  /// close cleanly and let run() return.
  virtual void finish(std::chrono::steady_clock::time_point deadline) = 0;

  /// True once everything taken from the buffer was delivered and the buffer
  /// is empty (for carbon: acknowledged by the peer's TCP).
  virtual bool delivered() const = 0;

  const writer_stats& stats() const { return stats_; }
  /// The connection now; writers without one report connected = false.
  virtual connection_info connection() const { return {}; }

 protected:
  writer_stats stats_;
};

}  // namespace sockpush
