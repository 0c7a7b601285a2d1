#include "sockpush/carbon/destination_order.hpp"

#include <algorithm>

namespace sockpush {

destination_order::destination_order(std::size_t count, clock::duration hold_down)
    : passed_over_until_(count), hold_down_(hold_down) {}

bool destination_order::eligible(std::size_t destination) const {
  return all_passed_over_ || passed_over_until_[destination] <= round_start_;
}

std::size_t destination_order::first(clock::time_point now) {
  round_start_ = now;
  all_passed_over_ = std::all_of(passed_over_until_.begin(), passed_over_until_.end(),
                                 [now](const auto& until) { return until > now; });
  std::size_t i = 0;
  while (!eligible(i)) ++i;  // one is: else all were passed over
  return i;
}

std::optional<std::size_t> destination_order::next_after(std::size_t tried) const {
  for (auto i = tried + 1; i < passed_over_until_.size(); ++i)
    if (eligible(i)) return i;
  return std::nullopt;
}

void destination_order::failed(std::size_t destination, clock::time_point now) {
  if (passed_over_until_.size() > 1) passed_over_until_[destination] = now + hold_down_;
}

std::size_t destination_order::preferred(std::size_t current, clock::time_point now) const {
  for (std::size_t i = 0; i < current; ++i)
    if (passed_over_until_[i] <= now) return i;
  return current;
}

std::optional<destination_order::clock::time_point> destination_order::fail_back_due(
    std::size_t current, clock::time_point now) const {
  std::optional<clock::time_point> due;
  for (std::size_t i = 0; i < current; ++i) {
    const auto at = std::max(passed_over_until_[i], now);
    if (!due || at < *due) due = at;
  }
  return due;
}

}  // namespace sockpush
