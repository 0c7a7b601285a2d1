// The bulk fast path for lines from outside (stdin, listeners, exec jobs):
// recognises runs of lines that are already canonical, "path value
// timestamp\n" with single spaces, an untagged path of safe characters and
// plain decimal numbers, so they can be forwarded as they are. Anything it
// does not recognise goes to validate_line(), which is the reference: a
// test holds every implementation here to its verdicts.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace sockpush {

/// Characters kept in a path: those that need no quoting anywhere between
/// carbon's whisper file names, Graphite-web's target parser and Grafana.
/// Glob ("*?[]{}"), function ("(),'\""), tag (";=") and file ("/\\")
/// characters are out; '.' separates components.
inline constexpr std::array<bool, 256> path_chars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("-_:#+%@~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

/// Skips a plain decimal ("42", "-0.5", "7.") at `p`; returns its end, or
/// nullptr if there is none or it is too long to be sure it is finite (300
/// digits cannot overflow a double).
const char* skip_plain_number(const char* p, const char* end);

/// If [p, end) starts with a canonical line's text (without the '\n'),
/// returns where it ends; otherwise nullptr.
const char* scan_plain_line(const char* p, const char* end);

/// The longest run of whole canonical lines (each with its '\n', at most
/// max_line_bytes) at `p`: returns the end of the run and adds its lines to
/// `lines`. What follows is a line for validate_line(), or an unterminated
/// tail.
const char* skip_canonical_lines(const char* p, const char* end, std::size_t& lines);

namespace detail {
/// The implementations behind scan_plain_line(), for the test that holds
/// each one to validate_line(): 16-byte generic vectors everywhere, SSE2
/// masks on x86-64.
const char* scan_plain_line_portable(const char* p, const char* end);
#if defined(__SSE2__)
const char* scan_plain_line_sse2(const char* p, const char* end);
#endif
}  // namespace detail

}  // namespace sockpush
