// The outage queue: where the memory buffer's oldest lines go when it is
// full, instead of being dropped. Nothing is written while the buffer has
// room, so a healthy carbon costs no disk I/O at all.
//
// Append-only segment files ("queue-<16 hex digits>.seg") of records
// (queue_record.hpp), oldest number first. Lines are handed out oldest
// first; a segment is deleted whole once every line in it was handed out
// and the caller says those are delivered (release). When the queue is
// full its oldest segment is dropped and counted. Each record goes out in
// one write; a segment is fdatasync'ed when sealed, and the one being
// appended to at most sync_interval after its first unsynced write; the
// directory is fsync'ed after a create or an unlink, at the next sync.
//
// Recovery reads only the record headers: the segment that was being
// appended to ends at its first bad record (a torn tail); a bad record
// found later, when its lines are read, skips the rest of its segment,
// counted. Appends after a start always begin a new segment.
//
// A failing directory (ENOSPC, EROFS, EIO, ...) turns the queue off, with
// one log line; lines it would have taken are counted as dropped, and it
// tries again after retry_interval. The decisions take the time as an
// argument and the files as an interface (queue_files), so every path runs
// in unit tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sockpush/buffer/queue_files.hpp"

namespace sockpush {

struct outage_queue_settings {
  std::uint64_t max_bytes = 64 << 20;
  std::uint64_t segment_bytes = 1 << 20;
  std::chrono::milliseconds sync_interval{10000};
  /// Free space left to everything else on the file system.
  std::uint64_t free_floor = 256 << 10;
  std::chrono::milliseconds retry_interval{30000};
  bool operator==(const outage_queue_settings&) const = default;
};

struct outage_queue_stats {
  std::uint64_t written_bytes = 0;     ///< record bytes written
  std::uint64_t fsyncs = 0;            ///< fdatasync and directory fsync calls
  std::uint64_t replayed_lines = 0;    ///< lines handed back out of the queue
  std::uint64_t dropped_full = 0;      ///< lines of segments dropped to stay within max_bytes
  std::uint64_t dropped_corrupt = 0;   ///< lines in records that did not check out
  std::uint64_t dropped_io_error = 0;  ///< lines not queued or not readable because of an I/O error
};

class outage_queue {
 public:
  using clock = std::chrono::steady_clock;

  /// Recovers what `files` holds.
  outage_queue(queue_files& files, outage_queue_settings settings, clock::time_point now);

  /// Queues whole lines (`line_count` of them), written at `wall_now` (unix
  /// seconds). Lines it cannot keep are counted as dropped.
  void append(std::string_view lines, std::size_t line_count, clock::time_point now,
              std::int64_t wall_now);

  struct block {
    std::string lines;
    std::size_t line_count = 0;
  };
  /// The oldest record not handed out yet, checked; nullopt when none is left.
  std::optional<block> next();
  bool has_unread() const;

  /// Every segment whose lines were all handed out by now is delivered
  /// once the caller's delivery has passed `position` (the caller's own
  /// count, e.g. the memory buffer's back_position after the hand-out).
  void handed_out_up_to(std::uint64_t position);
  /// Deletes the segments delivered by `delivered_position`.
  void release(std::uint64_t delivered_position, clock::time_point now);
  bool awaits_release() const;

  /// Syncs when due.
  void tick(clock::time_point now);
  /// When tick() has something to do; nullopt: nothing until the next append.
  std::optional<clock::time_point> next_due() const;
  /// Syncs whatever is unsynced now (at exit).
  void sync_now();

  std::uint64_t bytes() const { return bytes_; }
  std::size_t segments() const { return segments_.size(); }
  /// Lines queued and not handed out yet.
  std::uint64_t unread_lines() const;
  /// When the oldest line not handed out yet was queued (unix seconds).
  std::optional<std::int64_t> oldest_written_at() const;
  bool faulted() const { return fault_.has_value(); }
  const outage_queue_stats& stats() const { return stats_; }

 private:
  struct record_ref {
    std::uint64_t offset;
    std::uint32_t payload_bytes;
    std::uint32_t lines;
    std::int64_t written_at;
  };
  struct segment {
    segment(std::uint64_t n, std::string file, std::uint64_t size, bool is_sealed)
        : number(n), name(std::move(file)), bytes(size), sealed(is_sealed) {}
    std::uint64_t number;
    std::string name;
    std::uint64_t bytes = 0;  ///< the file's size
    std::vector<record_ref> records;
    std::size_t next_read = 0;  ///< records before it were handed out
    bool sealed = true;         ///< false only for the one being appended to
    std::optional<std::uint64_t> delivered_at;
    bool unread() const { return next_read < records.size(); }
    std::uint64_t lines_from(std::size_t record) const;
  };

  void recover(clock::time_point now);
  void recover_segment(segment& s, bool last);
  bool append_record(std::string_view lines, std::size_t line_count, clock::time_point now,
                     std::int64_t wall_now);
  void seal_tail();
  void drop_oldest(clock::time_point now);
  void remove_segment(const segment& s, clock::time_point now);
  void skip_rest(segment& s, std::uint64_t& counter, std::string_view why);
  /// Records an I/O failure: logged once per fault, retried later.
  void fail(int error, std::string_view doing, clock::time_point now);
  void sync(const std::string& name);
  std::string segment_name(std::uint64_t number) const;

  queue_files& files_;
  outage_queue_settings settings_;
  std::deque<segment> segments_;
  std::uint64_t bytes_ = 0;
  std::uint64_t next_number_ = 0;
  /// First write the tail has had since its last sync.
  std::optional<clock::time_point> unsynced_since_;
  /// A create or an unlink since the last directory fsync.
  std::optional<clock::time_point> directory_dirty_since_;
  struct fault {
    int error;
    clock::time_point retry_at;
  };
  std::optional<fault> fault_;
  outage_queue_stats stats_;
};

}  // namespace sockpush
