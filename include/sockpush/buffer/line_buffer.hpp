// The bounded buffer between the producers (collectors, stdin, listeners,
// exec jobs) and the writer. It holds complete '\n'-terminated lines in one contiguous
// byte string, so a batch can go to the socket in one write, and it never
// grows beyond its byte cap: when full it drops the oldest whole lines and
// counts them, or, with an overflow sink (the outage queue), hands them to it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sockpush {

/// Takes the oldest lines when the buffer is full (and counts what it
/// cannot keep itself).
class overflow_sink {
 public:
  virtual void spill(std::string_view lines, std::size_t line_count) = 0;

 protected:
  ~overflow_sink() = default;
};

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

  /// From now on, lines that do not fit go to `sink` instead of being
  /// dropped, at least `block_bytes` at a time (fewer, larger writes).
  void spill_to(overflow_sink* sink, std::size_t block_bytes);

  /// The buffered bytes as a stream position: bytes that left the front
  /// (taken, dropped, spilled) minus bytes put back; back_position() is the
  /// position after the last buffered byte. Once front_position() has
  /// passed a position, everything pushed before it has left the buffer.
  std::uint64_t front_position() const { return front_position_; }
  std::uint64_t back_position() const { return front_position_ + bytes(); }

  /// Drops everything (shutdown with nowhere to deliver); returns lines dropped.
  std::size_t clear();

 private:
  /// Drops (or spills) whole lines from the front until `incoming` more bytes fit.
  void make_room(std::size_t incoming);
  /// Lines that do not fit: to the sink, or counted as dropped.
  void overflow(std::string_view lines, std::size_t line_count);
  void compact();

  std::string data_;       ///< Buffered bytes are data_[head_, size()).
  std::size_t head_ = 0;   ///< Consumed prefix, reclaimed lazily by compact().
  std::size_t lines_ = 0;  ///< Newlines in the buffered bytes.
  std::size_t max_bytes_;
  std::uint64_t dropped_lines_ = 0;
  std::uint64_t front_position_ = 0;
  overflow_sink* sink_ = nullptr;
  std::size_t spill_block_ = 0;
};

/// Number of '\n' in `text`.
std::size_t count_lines(std::string_view text);

}  // namespace sockpush
