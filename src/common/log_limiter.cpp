#include "sockpush/common/log_limiter.hpp"

namespace sockpush {

bool log_limiter::allow(std::uint64_t& held_back, clock::time_point now) {
  held_back = 0;
  if (now - window_start_ >= window_) {
    held_back = held_back_;
    held_back_ = 0;
    logged_ = 0;
    window_start_ = now;
  }
  if (logged_ < burst_) {
    ++logged_;
    return true;
  }
  ++held_back_;
  return false;
}

}  // namespace sockpush
