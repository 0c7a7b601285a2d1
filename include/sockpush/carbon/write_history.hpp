// What was written on the connections to carbon, numbered by byte: every
// byte ever written has a number (0, 1, ...), every write records when it
// started. Replay asks it "the lines from byte b on" (b from the kernel's
// unacknowledged count) and "the first write at or after t" (the replay
// windows); the acknowledgement check asks "when was byte b written".
//
// Only the newest writes are kept: whole old batches leave once the rest
// covers the cap. Pure: no I/O, no clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace sockpush {

class write_history {
 public:
  using clock = std::chrono::steady_clock;

  /// Keeps at least `cap_bytes` of the newest written bytes (more while the
  /// oldest batch is needed to reach the cap).
  explicit write_history(std::size_t cap_bytes);

  /// A write of the bytes from end() on started at `at` (before it is known
  /// how much of it the kernel takes).
  void mark_write(clock::time_point at);
  /// Keeps `written` (what that write got into the kernel, moved in).
  void add(std::string&& written);

  /// Number of the first byte still kept; bytes before it are gone.
  std::uint64_t begin() const { return begin_; }
  /// Number of the next byte to be written: everything written so far.
  std::uint64_t end() const { return end_; }

  /// Byte number where the first write that started at or after `t` began
  /// (below begin() when that write is no longer kept); end() if none did.
  std::uint64_t first_written_since(clock::time_point t) const;
  /// When the write that holds byte `byte` started (also a write still
  /// under way, whose bytes are not added yet); nullopt if none is known.
  std::optional<clock::time_point> written_at(std::uint64_t byte) const;

  /// The whole lines from the one holding byte `from` up to the last
  /// complete line kept (a torn last line is not a line). `from` below
  /// begin() counts from begin().
  std::string lines_from(std::uint64_t from) const;

  /// Forgets every byte written so far (after a replay): begin() == end().
  void clear();

  /// A string whose storage the next batch can reuse (from a batch that
  /// left the history), empty.
  std::string take_spare();

 private:
  std::size_t cap_;
  std::deque<std::string> batches_;
  std::size_t bytes_ = 0;
  std::uint64_t begin_ = 0;
  std::uint64_t end_ = 0;
  /// (when, byte number) at the start of each write, oldest first.
  std::deque<std::pair<clock::time_point, std::uint64_t>> marks_;
  std::string spare_;
};

}  // namespace sockpush
