#include "sockpush/line_validator.hpp"

#include <charconv>
#include <cmath>
#include <numeric>

namespace sockpush {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/// Path bytes: printable ASCII except whitespace. This rejects control
/// characters and every non-ASCII byte, and with them invalid UTF-8.
bool is_path_char(unsigned char c) { return c > 0x20 && c < 0x7f; }

bool parse_finite(std::string_view text, double& value) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc{} && end == text.data() + text.size() && std::isfinite(value);
}

}  // namespace

std::string_view to_string(line_verdict v) {
  switch (v) {
    case line_verdict::ok: return "ok";
    case line_verdict::empty: return "empty";
    case line_verdict::too_long: return "too_long";
    case line_verdict::field_count: return "field_count";
    case line_verdict::bad_path: return "bad_path";
    case line_verdict::bad_value: return "bad_value";
    case line_verdict::bad_timestamp: return "bad_timestamp";
  }
  return "unknown";
}

std::uint64_t invalid_line_counts::total() const {
  return std::accumulate(by_reason.begin(), by_reason.end(), std::uint64_t{0});
}

line_verdict validate_line(std::string_view line, std::int64_t now, std::string& out) {
  if (line.size() > max_line_bytes) return line_verdict::too_long;
  std::array<std::string_view, 3> fields;
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i == line.size()) break;
    auto start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (count == fields.size()) return line_verdict::field_count;
    fields[count++] = line.substr(start, i - start);
  }
  if (count == 0) return line_verdict::empty;
  if (count < 2) return line_verdict::field_count;
  for (char c : fields[0])
    if (!is_path_char(static_cast<unsigned char>(c))) return line_verdict::bad_path;
  if (fields[0].front() == '.' || fields[0].back() == '.') return line_verdict::bad_path;
  double value = 0;
  if (!parse_finite(fields[1], value)) return line_verdict::bad_value;
  double ts = 0;
  if (count == 3 && !parse_finite(fields[2], ts)) return line_verdict::bad_timestamp;

  out.append(fields[0]);
  out.push_back(' ');
  out.append(fields[1]);
  out.push_back(' ');
  if (count == 3) {
    out.append(fields[2]);
  } else {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, now);
    out.append(digits, end);
  }
  out.push_back('\n');
  return line_verdict::ok;
}

}  // namespace sockpush
