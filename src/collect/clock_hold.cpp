#include "sockpush/collect/clock_hold.hpp"

#include <sys/timex.h>

#include <fmt/format.h>

#include <cmath>

namespace sockpush {

std::int64_t build_epoch() {
  return SOCKPUSH_BUILD_EPOCH;
}

clock_hold::clock_hold(const clock_config& cfg, std::size_t max_bytes)
    : cfg_(cfg), max_bytes_(max_bytes) {}

bool clock_hold::trusted(std::int64_t wall_now) const {
  if (wall_now < cfg_.not_before) return false;
  if (!cfg_.require_sync) return true;
  timex tx{};
  return ::adjtimex(&tx) != TIME_ERROR;  // TIME_ERROR: STA_UNSYNC is set
}

void clock_hold::hold(std::string round, steady::time_point collected) {
  bytes_ += round.size();
  held_.push_back({std::move(round), collected});
  while (bytes_ > max_bytes_ && !held_.empty()) {
    bytes_ -= held_.front().text.size();
    held_.pop_front();
    ++dropped_rounds_;
  }
}

std::size_t clock_hold::release(std::string& out, std::int64_t wall_now, steady::time_point now,
                                std::chrono::milliseconds interval) {
  const auto interval_s = std::max<std::int64_t>(1, interval.count() / 1000);
  std::size_t released = 0;
  for (const auto& round : held_) {
    auto age = std::llround(std::chrono::duration<double>(now - round.collected).count());
    auto stamp = wall_now - age;
    stamp -= stamp % interval_s;
    out += restamp_lines(round.text, stamp);
    ++released;
  }
  held_.clear();
  bytes_ = 0;
  return released;
}

std::string restamp_lines(std::string_view text, std::int64_t timestamp) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  const auto stamp = fmt::format_int(timestamp);
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    auto space = line.rfind(' ');
    if (space == std::string_view::npos) continue;
    out.append(line.substr(0, space + 1));
    out.append(stamp.data(), stamp.size());
    out.push_back('\n');
  }
  return out;
}

}  // namespace sockpush
