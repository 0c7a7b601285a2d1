#include "sockpush/common/interval_schedule.hpp"

#include <algorithm>

namespace sockpush {
namespace {

using std::chrono::milliseconds;
using system_clock = std::chrono::system_clock;

system_clock::time_point next_boundary(system_clock::time_point now, milliseconds interval) {
  auto since_epoch = std::chrono::duration_cast<milliseconds>(now.time_since_epoch());
  return system_clock::time_point((since_epoch / interval + 1) * interval);
}

}  // namespace

interval_schedule::interval_schedule(milliseconds interval, system_clock::time_point now)
    : interval_(interval), next_(next_boundary(now, interval)) {}

milliseconds interval_schedule::wait(system_clock::time_point now) const {
  auto left = std::chrono::ceil<milliseconds>(next_ - now);
  return std::clamp(left, milliseconds::zero(), interval_);
}

std::int64_t interval_schedule::due() const {
  return static_cast<std::int64_t>(system_clock::to_time_t(next_));
}

std::uint64_t interval_schedule::advance(system_clock::time_point now) {
  next_ += interval_;
  if (next_ <= now) {
    auto skipped = static_cast<std::uint64_t>((now - next_) / interval_) + 1;
    next_ = next_boundary(now, interval_);
    return skipped;
  }
  if (next_ - now > interval_ * 2) next_ = next_boundary(now, interval_);  // clock stepped back
  return 0;
}

}  // namespace sockpush
