// The outage queue's I/O shell: it owns the directory and takes the memory
// buffer's overflow. While carbon stays unreachable it also moves everything
// buffered to the queue every half sync interval, so a kill loses nothing
// older than that, and the queue's own sync bounds what a power cut loses.
// While carbon is reachable it feeds the
// queued lines back into the buffer, paced (replay_bytes_per_second) so
// that fresh rounds keep going out on time and a carbon that has just come
// back is not flooded. A segment is deleted once everything up to its last
// line was acknowledged by carbon; the next one is read only then, so a
// crash sends at most one segment twice.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/buffer/outage_queue.hpp"
#include "sockpush/buffer/queue_files.hpp"
#include "sockpush/common/asio.hpp"

namespace sockpush {

struct outage_spool_settings {
  std::string directory;
  outage_queue_settings queue;
  std::uint64_t replay_bytes_per_second = 512 << 10;
  /// Allow a directory on jffs2 or ubifs (a router's flash).
  bool on_flash = false;
  bool operator==(const outage_spool_settings&) const = default;
};

/// What the spool needs to know about the writer.
struct delivery_progress {
  bool connected = false;
  /// While connected: the buffer position (line_buffer::front_position)
  /// before which everything taken was acknowledged by carbon's TCP.
  std::uint64_t acknowledged_position = 0;
};

class outage_spool final : public overflow_sink {
 public:
  using clock = std::chrono::steady_clock;

  /// Throws config_error for a directory on flash without on_flash.
  outage_spool(asio::io_context& io, const outage_spool_settings& settings, line_buffer& buffer,
               std::function<delivery_progress()> progress, std::function<void()> wake_writer);

  void spill(std::string_view lines, std::size_t line_count) override;

  /// Syncs, replays and deletes until stop().
  asio::awaitable<void> run();
  void stop();

  /// At exit: once the writer delivered everything, the segments handed
  /// out are deleted; with `keep_buffer`, whatever the buffer still holds
  /// goes to the queue; all is synced.
  void close(bool writer_delivered, bool keep_buffer);

  const outage_queue& queue() const { return queue_; }

 private:
  void refill(clock::time_point now);
  /// Everything buffered goes to the queue.
  void flush_buffer(clock::time_point now);

  outage_spool_settings settings_;
  line_buffer& buffer_;
  std::function<delivery_progress()> progress_;
  std::function<void()> wake_writer_;
  asio::steady_timer timer_;
  directory_files files_;
  outage_queue queue_;
  /// Replay budget in bytes (a token bucket, refilled at the replay rate).
  double budget_ = 0;
  std::optional<clock::time_point> last_refill_;
  /// While carbon is unreachable: when the buffer next goes to disk.
  std::optional<clock::time_point> next_flush_;
  /// When the writer was last seen connected.
  std::optional<clock::time_point> last_connected_;
  bool stopped_ = false;
};

}  // namespace sockpush
