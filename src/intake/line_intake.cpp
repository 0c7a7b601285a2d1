#include "sockpush/intake/line_intake.hpp"

#include <spdlog/spdlog.h>

#include <cstring>

#include "sockpush/intake/canonical_scan.hpp"

namespace sockpush {
namespace {

std::string printable_excerpt(std::string_view line) {
  constexpr std::size_t shown = 80;
  std::string out;
  for (char c : line.substr(0, shown)) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (line.size() > shown) out += "...";
  return out;
}

}  // namespace

line_intake::line_intake(line_buffer& buffer, std::function<void()> wake_consumer, line_rules rules)
    : buffer_(buffer), wake_consumer_(std::move(wake_consumer)), rules_(rules) {}

void line_intake::accept(std::string_view line, std::string_view origin, std::uint64_t line_number,
                         std::int64_t now) {
  accept(line, origin, line_number, now, rules_);
}

void line_intake::accept(std::string_view line, std::string_view origin, std::uint64_t line_number,
                         std::int64_t now, const line_rules& rules) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto verdict = validate_line(line, now, rules, batch_);
  if (verdict == line_verdict::ok) {
    ++accepted_;
    ++batch_lines_;
    return;
  }
  if (verdict == line_verdict::empty) return;
  refuse(verdict, line, origin, line_number);
}

void line_intake::abandon(line_splitter& splitter, std::string_view origin,
                          std::uint64_t line_number) {
  commit();
  if (splitter.discard())
    refuse(line_verdict::truncated, "(cut off: the connection ended without a clean close)", origin,
           line_number + 1);
}

void line_intake::refuse(line_verdict verdict, std::string_view line, std::string_view origin,
                         std::uint64_t line_number) {
  invalid_.add(verdict);
  std::uint64_t held_back = 0;
  bool log = log_limit_.allow(held_back);
  if (held_back > 0)
    spdlog::warn("{} more invalid lines were refused without a log line ({} in all so far: {})",
                 held_back, invalid_.total(), invalid_.summary());
  if (log)
    spdlog::warn("{} line {}: refused ({}): \"{}\"", origin, line_number, to_string(verdict),
                 printable_excerpt(line));
}

void line_intake::feed(line_splitter& splitter, std::string_view data, std::string_view origin,
                       std::uint64_t& line_number, std::int64_t now, const line_rules& rules) {
  auto one_line = [&](std::string_view line) { accept(line, origin, ++line_number, now, rules); };
  std::size_t pos = splitter.complete(data, one_line);
  if (pos > data.size()) {
    commit();
    return;
  }
  const char* p = data.data() + pos;
  const char* const end = data.data() + data.size();
  const bool fast = rules.prefix.empty();
  while (p != end) {
    const char* run_start = p;
    std::size_t run_lines = 0;
    if (fast) p = skip_canonical_lines(p, end, run_lines);
    batch_.append(run_start, static_cast<std::size_t>(p - run_start));
    batch_lines_ += run_lines;
    accepted_ += run_lines;
    line_number += run_lines;
    if (p == end) break;
    const auto* nl =
        static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (nl == nullptr) {
      splitter.keep(std::string_view(p, static_cast<std::size_t>(end - p)));
      break;
    }
    one_line(std::string_view(p, static_cast<std::size_t>(nl - p)));
    p = nl + 1;
  }
  commit();
}

void line_intake::finish(line_splitter& splitter, std::string_view origin,
                         std::uint64_t& line_number, std::int64_t now, const line_rules& rules) {
  splitter.finish([&](std::string_view line) { accept(line, origin, ++line_number, now, rules); });
  commit();
}

void line_intake::commit() {
  if (batch_.empty()) return;
  buffer_.absorb(batch_, batch_lines_);
  batch_lines_ = 0;
  wake_consumer_();
}

}  // namespace sockpush
