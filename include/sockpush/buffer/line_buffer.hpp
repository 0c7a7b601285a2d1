// The bounded buffer between the producers (collectors, stdin, listeners,
// exec jobs) and the writer. It holds complete '\n'-terminated lines in one contiguous
// byte string, so a batch can go to the socket in one write, and it never
// grows beyond its byte cap: when full it drops the oldest whole lines and
// counts them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sockpush {

class line_buffer {
 public:
  /// `max_bytes` caps the buffered bytes; a line longer than that is dropped.
  explicit line_buffer(std::size_t max_bytes);

  /// Appends complete lines. `lines` must be empty or end with '\n'.
  /// Oldest lines are dropped to stay within the cap.
  void push(std::string_view lines);
  /// Same, when the caller already knows how many lines `lines` holds.
  void push(std::string_view lines, std::size_t line_count);

  /// push(), but may take over `text`'s storage instead of copying it
  /// (when the buffer is empty); `text` is left empty either way.
  void absorb(std::string& text, std::size_t line_count);

  /// Moves whole lines from the front into `out` (appending): as many as fit
  /// in `max_bytes`, but at least one. Returns the number of lines moved.
  std::size_t take(std::string& out, std::size_t max_bytes);

  /// Puts lines that were taken but not delivered back at the front, ahead of
  /// everything buffered since. Over the cap, they are the first dropped.
  void put_back(std::string_view lines);

  bool empty() const { return bytes() == 0; }
  std::size_t bytes() const { return data_.size() - head_; }
  std::size_t lines() const { return lines_; }
  std::size_t max_bytes() const { return max_bytes_; }
  /// Lines dropped because the buffer was full, since construction.
  std::uint64_t dropped_lines() const { return dropped_lines_; }

  /// Drops everything (shutdown with nowhere to deliver); returns lines dropped.
  std::size_t clear();

 private:
  /// Drops whole lines from the front until `incoming` more bytes fit.
  void make_room(std::size_t incoming);
  void compact();

  std::string data_;       ///< Buffered bytes are data_[head_, size()).
  std::size_t head_ = 0;   ///< Consumed prefix, reclaimed lazily by compact().
  std::size_t lines_ = 0;  ///< Newlines in the buffered bytes.
  std::size_t max_bytes_;
  std::uint64_t dropped_lines_ = 0;
};

/// Number of '\n' in `text`.
std::size_t count_lines(std::string_view text);

}  // namespace sockpush
