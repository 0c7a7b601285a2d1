// Where lines from outside enter the pipeline: every source (stdin,
// listeners, exec jobs) hands each line to the one line_intake, which
// validates it, counts and logs refusals with their origin, and pushes
// accepted lines to the buffer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/common/log_limiter.hpp"
#include "sockpush/intake/line_splitter.hpp"
#include "sockpush/intake/line_validator.hpp"

namespace sockpush {

class line_intake {
 public:
  /// `wake_consumer` runs after lines were added to `buffer` (once per read).
  line_intake(line_buffer& buffer, std::function<void()> wake_consumer, line_rules rules = {});

  /// Validates one line; `origin` and `line_number` name it in the log.
  /// Accepted lines wait in a batch until commit().
  void accept(std::string_view line, std::string_view origin, std::uint64_t line_number,
              std::int64_t now);
  /// Same with rules other than the intake's own (an exec job's prefix).
  void accept(std::string_view line, std::string_view origin, std::uint64_t line_number,
              std::int64_t now, const line_rules& rules);
  /// Takes one read of a byte stream: completes the line `splitter`
  /// carries, validates every whole line (runs of lines already in
  /// canonical form are copied in one go), leaves an unterminated tail in
  /// `splitter`, and commits. `line_number` counts the stream's lines for
  /// the log.
  void feed(line_splitter& splitter, std::string_view data, std::string_view origin,
            std::uint64_t& line_number, std::int64_t now, const line_rules& rules);
  void feed(line_splitter& splitter, std::string_view data, std::string_view origin,
            std::uint64_t& line_number, std::int64_t now) {
    feed(splitter, data, origin, line_number, now, rules_);
  }
  /// End of a stream: its last line may lack the '\n'. Commits.
  void finish(line_splitter& splitter, std::string_view origin, std::uint64_t& line_number,
              std::int64_t now, const line_rules& rules);
  void finish(line_splitter& splitter, std::string_view origin, std::uint64_t& line_number,
              std::int64_t now) {
    finish(splitter, origin, line_number, now, rules_);
  }

  /// A stream that ended without the client's clean close (reset, read
  /// error, our stop, idle close): its unterminated last line is refused as
  /// truncated instead of being forwarded.
  void abandon(line_splitter& splitter, std::string_view origin, std::uint64_t line_number);

  /// Moves the batch to the buffer and wakes its consumer: once per read, so a
  /// slow producer's line leaves at once and a fast one's go in bulk.
  void commit();

  /// More than half the buffer is waiting: stream sources pause reading so
  /// the producer's pipe or socket fills up (back-pressure, not loss).
  bool congested() const { return buffer_.bytes() > buffer_.max_bytes() / 2; }

  const line_rules& rules() const { return rules_; }
  std::uint64_t accepted_lines() const { return accepted_; }
  const invalid_line_counts& invalid() const { return invalid_; }

 private:
  /// Counts a refused line and logs it, rate-limited.
  void refuse(line_verdict verdict, std::string_view line, std::string_view origin,
              std::uint64_t line_number);

  line_buffer& buffer_;
  std::function<void()> wake_consumer_;
  line_rules rules_;
  std::string batch_;
  std::size_t batch_lines_ = 0;
  std::uint64_t accepted_ = 0;
  invalid_line_counts invalid_;
  log_limiter log_limit_;
};

}  // namespace sockpush
