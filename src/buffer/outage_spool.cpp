#include "sockpush/buffer/outage_spool.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "sockpush/common/config_error.hpp"

namespace sockpush {
namespace {

/// How often a replay hands out lines and checks for delivered segments.
constexpr std::chrono::milliseconds replay_step{100};
/// How often the queue looks for carbon while it holds lines and carbon is away.
constexpr std::chrono::milliseconds reconnect_check{1000};

enum class storage : std::uint8_t { ram, flash, other };

struct file_system {
  std::string name;
  storage kind = storage::other;
};

file_system file_system_of(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return {"unknown", storage::other};
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0x01021994:
      return {"tmpfs", storage::ram};
    case 0x858458f6:
      return {"ramfs", storage::ram};
    case 0x72b6:
      return {"jffs2", storage::flash};
    case 0x24051905:
      return {"ubifs", storage::flash};
    case 0x794c7630: {
      // OpenWrt's root is an overlay whose writable layer (/overlay) is the flash.
      auto upper =
          path == "/overlay" ? file_system{"unknown", storage::other} : file_system_of("/overlay");
      return {fmt::format("overlay on {}", upper.name), upper.kind};
    }
    case 0xEF53:
      return {"ext2/3/4", storage::other};
    case 0x58465342:
      return {"xfs", storage::other};
    case 0x9123683E:
      return {"btrfs", storage::other};
    case 0xF2F52010:
      return {"f2fs", storage::other};
    case 0x4d44:
      return {"vfat", storage::other};
    case 0x2011BAB0:
      return {"exfat", storage::other};
    default:
      return {fmt::format("type {:#x}", static_cast<unsigned long>(st.f_type)), storage::other};
  }
}

/// The directory, created if missing, after the checks that decide whether
/// the queue may live there.
std::string checked_directory(const outage_spool_settings& settings) {
  const auto& dir = settings.directory;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    spdlog::warn("outage queue: cannot create {}: {}", dir, std::strerror(errno));
  const auto fs = file_system_of(dir);
  if (fs.kind == storage::flash && !settings.on_flash)
    throw config_error(fmt::format(
        "[buffer] spool_dir {} is on {}, a router's flash: a long outage would write up to "
        "spool_max_bytes ({} bytes) to it, and flash wears out. Put the queue on a USB stick, or "
        "on /tmp (RAM, kept across restarts but not power cuts), or set spool_on_flash = true",
        dir, fs.name, settings.queue.max_bytes));
  spdlog::info("outage queue in {} ({}), up to {} bytes", dir, fs.name, settings.queue.max_bytes);
  if (fs.kind == storage::ram)
    spdlog::warn(
        "outage queue: {} is in RAM ({}): queued lines survive a restart of sockpush, "
        "not a power cut",
        dir, fs.name);
  return dir;
}

/// A full or read-only disk is tried again as often as a sync is due.
outage_queue_settings retrying_every_sync(outage_queue_settings queue) {
  queue.retry_interval =
      std::max<std::chrono::milliseconds>(queue.sync_interval, std::chrono::seconds(1));
  return queue;
}

std::int64_t wall_seconds() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

}  // namespace

outage_spool::outage_spool(asio::io_context& io, const outage_spool_settings& settings,
                           line_buffer& buffer, std::function<delivery_progress()> progress,
                           std::function<void()> wake_writer)
    : settings_(settings),
      buffer_(buffer),
      progress_(std::move(progress)),
      wake_writer_(std::move(wake_writer)),
      timer_(io),
      files_(checked_directory(settings)),
      queue_(files_, retrying_every_sync(settings.queue), clock::now()) {}

void outage_spool::spill(std::string_view lines, std::size_t line_count) {
  queue_.append(lines, line_count, clock::now(), wall_seconds());
  // The queue may now have a sync to schedule.
  timer_.cancel();
}

void outage_spool::stop() {
  stopped_ = true;
  timer_.cancel();
}

asio::awaitable<void> outage_spool::run() {
  while (!stopped_) {
    const auto now = clock::now();
    queue_.tick(now);
    const auto delivery = progress_();
    if (delivery.connected) queue_.release(delivery.acknowledged_position, now);
    auto wake = queue_.next_due().value_or(clock::time_point::max());
    // Also how often a connected writer is checked on: an outage that
    // begins is noticed within it (nothing else tells the queue).
    const auto flush_every = settings_.queue.sync_interval / 2;
    if (delivery.connected) {
      next_flush_.reset();
      last_connected_ = now;
      wake = std::min(wake, now + flush_every);
      if (queue_.has_unread() || queue_.awaits_release()) {
        refill(now);
        wake = std::min(wake, now + replay_step);
      }
    } else {
      last_refill_.reset();
      // Counted from when carbon was last seen: lines wait at most half a
      // sync interval in memory, and a reconnect within it writes nothing.
      if (!next_flush_) next_flush_ = last_connected_.value_or(now) + flush_every;
      if (now >= *next_flush_) {
        flush_buffer(now);
        next_flush_ = now + flush_every;
      }
      wake = std::min(wake, *next_flush_);
      if (queue_.has_unread()) wake = std::min(wake, now + reconnect_check);
    }
    timer_.expires_at(wake);
    error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void outage_spool::refill(clock::time_point now) {
  const auto rate = static_cast<double>(settings_.replay_bytes_per_second);
  if (last_refill_)
    budget_ = std::min(rate * replay_step.count() / 1000.0 * 2,
                       budget_ + rate * std::chrono::duration<double>(now - *last_refill_).count());
  last_refill_ = now;
  bool handed_out = false;
  // Half the buffer stays free for fresh lines, so a replay never pushes
  // anything back out to the queue.
  while (budget_ > 0 && buffer_.bytes() < buffer_.max_bytes() / 2 && !queue_.awaits_release()) {
    auto block = queue_.next();
    if (!block) break;
    budget_ -= static_cast<double>(block->lines.size());
    buffer_.push(block->lines, block->line_count);
    queue_.handed_out_up_to(buffer_.back_position());
    handed_out = true;
  }
  if (handed_out) wake_writer_();
}

void outage_spool::flush_buffer(clock::time_point now) {
  std::string lines;
  while (!buffer_.empty()) {
    lines.clear();
    auto n = buffer_.take(lines, static_cast<std::size_t>(settings_.queue.segment_bytes));
    queue_.append(lines, n, now, wall_seconds());
  }
}

void outage_spool::close(bool writer_delivered, bool keep_buffer) {
  stop();
  const auto now = clock::now();
  if (writer_delivered) queue_.release(buffer_.front_position(), now);
  if (keep_buffer && !buffer_.empty()) {
    const auto lines = buffer_.lines();
    const auto lost_before = queue_.stats().dropped_io_error;
    flush_buffer(now);
    if (auto lost = queue_.stats().dropped_io_error - lost_before; lost > 0)
      spdlog::error("{} undelivered lines lost at shutdown: the outage queue {} cannot take them",
                    lost, settings_.directory);
    else
      spdlog::info("{} undelivered lines kept in the outage queue {}", lines, settings_.directory);
  }
  queue_.sync_now();
}

}  // namespace sockpush
