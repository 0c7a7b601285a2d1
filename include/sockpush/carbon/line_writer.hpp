// The consumer side of the buffer: something that delivers buffered lines
// somewhere (carbon over TCP, or stdout for previews).
#pragma once

#include <chrono>
#include <vector>

#include "sockpush/carbon/writer_stats.hpp"
#include "sockpush/common/asio.hpp"

namespace sockpush {

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
  /// Bytes taken from the shared buffer and not yet in the kernel.
  virtual std::size_t pending_bytes() const { return 0; }

 protected:
  writer_stats stats_;
};

}  // namespace sockpush
