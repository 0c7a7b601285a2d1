#include "sockpush/intake/line_validator.hpp"

#include "sockpush/common/decimal.hpp"
#include "sockpush/intake/canonical_scan.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <numeric>

namespace sockpush {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

/// Length of the UTF-8 sequence starting at text[i], or 0 if it is not
/// well-formed (overlong forms, surrogates and values past U+10FFFF too).
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char b0 = byte(i);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

/// Checks the metric name (the part before any ';') and appends it to `out`,
/// sanitised if the policy says so. On failure `out` may hold a partial name.
line_verdict append_name(std::string_view name, path_policy policy, std::string& out) {
  if (name.empty() || name.front() == '.' || name.back() == '.') return line_verdict::bad_path;
  for (std::size_t i = 0; i < name.size();) {
    auto c = static_cast<unsigned char>(name[i]);
    if (path_chars[c]) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c == '.') {
      if (name[i + 1] == '.') return line_verdict::bad_path;  // empty component
      out.push_back('.');
      ++i;
      continue;
    }
    std::size_t width = 1;
    if (c >= 0x80) {
      width = utf8_sequence_length(name, i);
      if (width == 0) return line_verdict::bad_utf8;
    }
    if (policy == path_policy::reject) return line_verdict::bad_path;
    out.push_back('_');
    i += width;
  }
  return line_verdict::ok;
}

/// Tags may hold any printable character carbon accepts, UTF-8 included.
line_verdict check_tag_text(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return line_verdict::bad_tag;
      ++i;
      continue;
    }
    auto width = utf8_sequence_length(text, i);
    if (width == 0) return line_verdict::bad_utf8;
    i += width;
  }
  return line_verdict::ok;
}

/// Checks ";k=v;k2=v2" (possibly empty) with carbon's own rules.
line_verdict check_tags(std::string_view tags) {
  while (!tags.empty()) {
    tags.remove_prefix(1);  // the ';'
    auto end = tags.find(';');
    auto segment = tags.substr(0, end);
    tags = end == std::string_view::npos ? std::string_view{} : tags.substr(end);
    auto eq = segment.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == segment.size())
      return line_verdict::bad_tag;
    auto key = segment.substr(0, eq);
    auto value = segment.substr(eq + 1);
    if (key.find_first_of("!^") != std::string_view::npos || value.front() == '~')
      return line_verdict::bad_tag;
    if (auto v = check_tag_text(segment); v != line_verdict::ok) return v;
  }
  return line_verdict::ok;
}

/// True if `text` is a finite number as carbon's float() reads it. Plain
/// decimals ("42", "-0.5") are recognised by a scan; anything else (an
/// exponent, a huge digit string, "nan", "inf") goes to the full parser.
bool is_finite_number(std::string_view text) {
  if (skip_plain_number(text.data(), text.data() + text.size()) == text.data() + text.size())
    return true;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  return parse_finite_decimal(text).has_value();
}

/// A field is anything but whitespace; a non-ASCII byte in the value or
/// timestamp fails the number parse, so only the path needs UTF-8 checks.
std::size_t split_fields(std::string_view line, std::array<std::string_view, 3>& fields) {
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i == line.size()) break;
    auto start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (count == fields.size()) return fields.size() + 1;
    fields[count++] = line.substr(start, i - start);
  }
  return count;
}

}  // namespace

std::string_view to_string(line_verdict v) {
  switch (v) {
    case line_verdict::ok:
      return "ok";
    case line_verdict::empty:
      return "empty";
    case line_verdict::too_long:
      return "too_long";
    case line_verdict::field_count:
      return "field_count";
    case line_verdict::bad_utf8:
      return "bad_utf8";
    case line_verdict::bad_path:
      return "bad_path";
    case line_verdict::bad_tag:
      return "bad_tag";
    case line_verdict::bad_value:
      return "bad_value";
    case line_verdict::bad_timestamp:
      return "bad_timestamp";
    case line_verdict::truncated:
      return "truncated";
  }
  return "unknown";
}

std::uint64_t invalid_line_counts::total() const {
  return std::accumulate(by_reason.begin(), by_reason.end(), std::uint64_t{0});
}

std::string invalid_line_counts::summary() const {
  std::string text;
  for (std::size_t i = 0; i < line_verdict_count; ++i) {
    if (by_reason[i] == 0) continue;
    if (!text.empty()) text += ", ";
    text += std::to_string(by_reason[i]);
    text += ' ';
    text += to_string(static_cast<line_verdict>(i));
  }
  return text;
}

line_verdict validate_line(std::string_view line, std::int64_t now, const line_rules& rules,
                           std::string& out) {
  if (line.size() > max_line_bytes) return line_verdict::too_long;
  if (rules.prefix.empty() &&
      scan_plain_line(line.data(), line.data() + line.size()) == line.data() + line.size()) {
    out.append(line);
    out.push_back('\n');
    return line_verdict::ok;
  }
  std::array<std::string_view, 3> fields;
  auto count = split_fields(line, fields);
  if (count == 0) return line_verdict::empty;
  if (count < 2 || count > 3) return line_verdict::field_count;
  if (!is_finite_number(fields[1])) return line_verdict::bad_value;
  if (count == 3 && !is_finite_number(fields[2])) return line_verdict::bad_timestamp;

  auto path = fields[0];
  auto tag_start = path.find(';');
  auto name = path.substr(0, tag_start);
  auto tags = tag_start == std::string_view::npos ? std::string_view{} : path.substr(tag_start);

  auto rollback = out.size();
  if (!rules.prefix.empty()) {
    out.append(rules.prefix);
    out.push_back('.');
  }
  auto verdict = append_name(name, rules.path, out);
  if (verdict == line_verdict::ok) verdict = check_tags(tags);
  if (verdict != line_verdict::ok) {
    out.resize(rollback);
    return verdict;
  }
  out.append(tags);
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
  if (out.size() - rollback > max_line_bytes + 1) {  // the prefix made it too long
    out.resize(rollback);
    return line_verdict::too_long;
  }
  return line_verdict::ok;
}

}  // namespace sockpush
