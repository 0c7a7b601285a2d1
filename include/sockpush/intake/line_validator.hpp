// The one check every line from outside (stdin, listeners, exec jobs) goes
// through before it may reach carbon: carbon drops the whole connection on
// some bad lines (over 16 KiB, invalid UTF-8), and Graphite-web cannot query
// names holding glob or function characters, so nothing invalid is forwarded.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sockpush {

enum class line_verdict : std::uint8_t {
  ok,
  empty,          ///< blank line: skipped silently, not counted as invalid
  too_long,       ///< longer than max_line_bytes
  field_count,    ///< not "path value [timestamp]"
  bad_utf8,       ///< bytes that are not UTF-8 (carbon drops the connection)
  bad_path,       ///< empty component or a character outside the path set
  bad_tag,        ///< a ";tag=value" part carbon would refuse
  bad_value,      ///< not a finite number
  bad_timestamp,  ///< not an integer or decimal number (-1 is allowed)
  truncated,      ///< a last line its connection ended without a clean close (never validated)
};
inline constexpr std::size_t line_verdict_count = 10;

/// Name of a verdict as used in logs and metric names.
std::string_view to_string(line_verdict v);

/// Lines longer than this are refused: carbon drops the connection at 16 KiB.
inline constexpr std::size_t max_line_bytes = 16000;

/// What to do with a path character outside [A-Za-z0-9] and "-_:#+%@~":
/// refuse the line, or replace the character (a whole UTF-8 sequence counts
/// as one) with '_'.
enum class path_policy : std::uint8_t { reject, sanitise };

struct line_rules {
  path_policy path = path_policy::reject;
  /// Prepended as "{prefix}." to every path when not empty (exec jobs that
  /// print relative names).
  std::string_view prefix;
};

/// Checks one line (without its '\n'). If valid, appends it to `out` in
/// canonical form ("path value timestamp\n", single spaces), filling in
/// `now` when the timestamp is missing. Graphite 1.1 tags
/// ("path;k=v;k2=v2") follow carbon's rules: non-empty names without any of
/// ";!^=", non-empty values not starting with '~'.
line_verdict validate_line(std::string_view line, std::int64_t now, const line_rules& rules,
                           std::string& out);

/// Per-reason counts of refused lines.
struct invalid_line_counts {
  std::array<std::uint64_t, line_verdict_count> by_reason{};
  std::uint64_t total() const;
  void add(line_verdict v) { ++by_reason[static_cast<std::size_t>(v)]; }
  /// "2 too_long, 1 bad_value": the non-zero counts, for logs.
  std::string summary() const;
};

}  // namespace sockpush
