// The one check every line from outside (stdin today, listeners later) goes
// through before it may reach carbon: carbon drops the whole connection on
// some bad lines (over 16 KiB, invalid UTF-8), so nothing invalid is forwarded.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sockpush {

enum class line_verdict : std::uint8_t {
  ok,
  empty,           ///< blank line: skipped silently, not counted as invalid
  too_long,        ///< longer than max_line_bytes
  field_count,     ///< not "path value [timestamp]"
  bad_path,        ///< characters carbon or Grafana cannot handle
  bad_value,       ///< not a finite number
  bad_timestamp,   ///< not an integer or decimal number (-1 is allowed)
};
inline constexpr std::size_t line_verdict_count = 7;

/// Name of a verdict as used in logs and metric names.
std::string_view to_string(line_verdict v);

/// Lines longer than this are refused: carbon drops the connection at 16 KiB.
inline constexpr std::size_t max_line_bytes = 16000;

/// Checks one line (without its '\n'). If valid, appends it to `out` in
/// canonical form ("path value timestamp\n", single spaces), filling in
/// `now` when the timestamp is missing.
line_verdict validate_line(std::string_view line, std::int64_t now, std::string& out);

/// Per-reason counts of refused lines.
struct invalid_line_counts {
  std::array<std::uint64_t, line_verdict_count> by_reason{};
  std::uint64_t total() const;
};

}  // namespace sockpush
