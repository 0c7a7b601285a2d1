// libFuzzer target: arbitrary bytes, cut at arbitrary points, through the
// line splitter and the validator. Any line the validator accepts must be
// something carbon takes without dropping the connection, and must pass the
// validator again unchanged (the canonical form is a fixed point).
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "sockpush/intake/canonical_scan.hpp"
#include "sockpush/intake/line_splitter.hpp"
#include "sockpush/intake/line_validator.hpp"

namespace {

using namespace sockpush;

void require(bool ok) {
  if (!ok) std::abort();
}

/// Valid UTF-8 as RFC 3629 defines it, decoded independently of the
/// validator's table: every sequence is the shortest form of its code point,
/// no surrogate (U+D800..U+DFFF), nothing above U+10FFFF; and no controls.
bool valid_utf8_without_controls(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    std::size_t n = 0;
    char32_t point = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 2;
      point = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      point = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      point = c & 0x07;
    } else {
      return false;  // a continuation byte first, or 0xF8..0xFF
    }
    if (i + n > text.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      point = (point << 6) | (next & 0x3F);
    }
    constexpr char32_t shortest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (point < shortest[n] || (point >= 0xD800 && point <= 0xDFFF) || point > 0x10FFFF)
      return false;
    i += n;
  }
  return true;
}

bool finite_number(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc{} && end == text.data() + text.size() && std::isfinite(value);
}

/// The bulk scanners may only pass a line the validator keeps unchanged
/// (a prefix turns the validator's own fast path off), and must agree.
void check_scanners(std::string_view line) {
  std::string full;
  const bool canonical =
      validate_line(line, 0, line_rules{path_policy::reject, "p"}, full) == line_verdict::ok &&
      full.size() == line.size() + 3 && std::string_view(full).substr(2, line.size()) == line;
  const char* end = line.data() + line.size();
  const bool portable = detail::scan_plain_line_portable(line.data(), end) == end;
  require(!portable || canonical);
#if defined(__SSE2__)
  require(portable == (detail::scan_plain_line_sse2(line.data(), end) == end));
#endif
}

void check_line(std::string_view line, const line_rules& rules) {
  check_scanners(line);
  std::string out;
  auto verdict = validate_line(line, 1700000000, rules, out);
  if (verdict != line_verdict::ok) {
    require(out.empty());
    return;
  }
  require(!out.empty() && out.back() == '\n');
  require(out.size() <= max_line_bytes + 1);
  std::string_view accepted(out.data(), out.size() - 1);
  require(accepted.find('\n') == std::string_view::npos);
  // Exactly three fields separated by single spaces.
  auto first = accepted.find(' ');
  auto last = accepted.rfind(' ');
  require(first != std::string_view::npos && first < last && accepted.find(' ', first + 1) == last);
  require(valid_utf8_without_controls(accepted.substr(0, first)));
  // Independent oracle for the numbers: whatever fast path accepted them,
  // from_chars must read both as finite doubles.
  require(finite_number(accepted.substr(first + 1, last - first - 1)));
  require(finite_number(accepted.substr(last + 1)));
  std::string again;
  line_rules plain{rules.path, {}};
  require(validate_line(accepted, 0, plain, again) == line_verdict::ok);
  require(again == out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the rules and where the stream is cut in two reads.
  auto control = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  line_rules rules{(control & 1) ? path_policy::sanitise : path_policy::reject,
                   (control & 2) ? "pre.fix" : ""};
  auto cut = input.empty() ? 0 : (control >> 2) % (input.size() + 1);
  line_splitter splitter;
  std::size_t lines = 0;
  auto on_line = [&](std::string_view line) {
    require(line.size() <= max_line_bytes + 1);  // the splitter keeps memory bounded
    ++lines;
    check_line(line, rules);
  };
  splitter.feed(input.substr(0, cut), on_line);
  splitter.feed(input.substr(cut), on_line);
  splitter.finish(on_line);
  // The run scanner over the whole input stops exactly at the first line a
  // line-by-line scan does not pass (whatever way it splits the work).
  std::size_t run_lines = 0;
  const char* run_end = skip_canonical_lines(input.data(), input.data() + input.size(), run_lines);
  const char* p = input.data();
  std::size_t one_by_one = 0;
  for (;;) {
    const char* nl =
        static_cast<const char*>(std::memchr(p, '\n', input.data() + input.size() - p));
    if (nl == nullptr || scan_plain_line(p, nl + 1) != nl ||
        static_cast<std::size_t>(nl - p) > max_line_bytes)
      break;
    p = nl + 1;
    ++one_by_one;
  }
  require(run_end == p && run_lines == one_by_one);
  return 0;
}
