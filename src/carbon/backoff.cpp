#include "sockpush/carbon/backoff.hpp"

#include <algorithm>

namespace sockpush {

backoff::backoff(duration initial, duration max, std::uint64_t seed)
    : initial_(std::max(initial, duration{1})),
      max_(std::max(max, initial_)),
      rng_(static_cast<std::minstd_rand::result_type>(seed % 2147483646U + 1)) {}

backoff::duration backoff::ceiling() const {
  // Doubling stops at the cap; the shift is bounded so it cannot overflow.
  auto ceiling = initial_;
  for (unsigned i = 0; i < attempt_ && ceiling < max_; ++i) ceiling *= 2;
  return std::min(ceiling, max_);
}

backoff::duration backoff::next() {
  auto top = ceiling();
  ++attempt_;
  std::uniform_int_distribution<duration::rep> pick(0, top.count());
  return duration{pick(rng_)};
}

}  // namespace sockpush
