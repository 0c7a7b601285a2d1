// Where lines from outside enter the pipeline: every source (stdin,
// listeners, exec jobs) cuts its bytes into lines with a line_splitter and
// hands each line to the one line_intake, which validates it, counts and
// logs refusals with their origin, and pushes accepted lines to the buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sockpush/line_buffer.hpp"
#include "sockpush/line_validator.hpp"
#include "sockpush/line_writer.hpp"
#include "sockpush/logging.hpp"

namespace sockpush {

/// Cuts a byte stream into lines, carrying a partial line between reads.
/// A line longer than max_line_bytes is kept only up to one byte more,
/// enough for the validator to refuse it, so memory stays bounded.
class line_splitter {
 public:
  template <typename OnLine>
  void feed(std::string_view data, OnLine&& on_line) {
    std::size_t pos = 0;
    if (!partial_.empty()) {
      auto nl = data.find('\n');
      keep(data.substr(0, nl));
      if (nl == std::string_view::npos) return;
      on_line(std::string_view(partial_));
      partial_.clear();
      pos = nl + 1;
    }
    for (;;) {
      auto nl = data.find('\n', pos);
      if (nl == std::string_view::npos) break;
      on_line(data.substr(pos, nl - pos));
      pos = nl + 1;
    }
    keep(data.substr(pos));
  }

  /// End of stream: a last line without '\n' counts too (nc sends it).
  template <typename OnLine>
  void finish(OnLine&& on_line) {
    if (!partial_.empty()) on_line(std::string_view(partial_));
    partial_.clear();
  }

 private:
  void keep(std::string_view fragment) {
    auto room = max_line_bytes + 1 - std::min(partial_.size(), max_line_bytes + 1);
    partial_.append(fragment.substr(0, room));
  }
  std::string partial_;
};

class line_intake {
 public:
  line_intake(line_buffer& buffer, line_writer& writer, line_rules rules = {});

  /// Validates one line; `origin` and `line_number` name it in the log.
  /// Accepted lines wait in a batch until commit().
  void accept(std::string_view line, std::string_view origin, std::uint64_t line_number,
              std::int64_t now);
  /// Same with rules other than the intake's own (an exec job's prefix).
  void accept(std::string_view line, std::string_view origin, std::uint64_t line_number,
              std::int64_t now, const line_rules& rules);
  /// Moves the batch to the buffer and wakes the writer: once per read, so a
  /// slow producer's line leaves at once and a fast one's go in bulk.
  void commit();

  /// More than half the buffer is waiting: stream sources pause reading so
  /// the producer's pipe or socket fills up (back-pressure, not loss).
  bool congested() const { return buffer_.bytes() > buffer_.max_bytes() / 2; }

  const line_rules& rules() const { return rules_; }
  std::uint64_t accepted_lines() const { return accepted_; }
  const invalid_line_counts& invalid() const { return invalid_; }

 private:
  line_buffer& buffer_;
  line_writer& writer_;
  line_rules rules_;
  std::string batch_;
  std::uint64_t accepted_ = 0;
  invalid_line_counts invalid_;
  log_limiter log_limit_;
};

}  // namespace sockpush
