// The consumer side of the buffer: something that delivers buffered lines
// somewhere (carbon over TCP, or stdout for previews).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sockpush/common/asio.hpp"

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

  /// Cumulative; a writer made of other writers adds theirs up.
  virtual writer_stats stats() const { return stats_; }
  /// The connection now; writers without one report connected = false.
  virtual connection_info connection() const { return {}; }
  /// One entry per carbon destination; none for stdout.
  virtual std::vector<destination_stats> destinations() const { return {}; }
  /// Lines the writer's own buffers dropped when full (a sharded writer
  /// keeps one per destination); the shared buffer counts its own.
  virtual std::uint64_t dropped_lines() const { return 0; }
  /// Lines taken from the shared buffer and not yet handed to the peer
  /// (a batch being written, a sharded writer's own buffers).
  virtual std::size_t pending_lines() const { return 0; }

 protected:
  writer_stats stats_;
};

}  // namespace sockpush
