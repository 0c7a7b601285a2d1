// Failover order: which destination to connect to, and when to go back to
// a better one. Destinations are tried in the order configured; one that
// failed is passed over for hold_down (unless all are, then all are tried);
// while connected to a later one, an earlier one whose hold_down is over is
// worth a move back (fail-back). With one destination nothing is passed
// over: it is the only place to go. Pure: time is passed in.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace sockpush {

class destination_order {
 public:
  using clock = std::chrono::steady_clock;

  destination_order(std::size_t count, clock::duration hold_down);

  /// Starts a round of connection attempts at `now`; returns the first
  /// destination to try.
  std::size_t first(clock::time_point now);
  /// The next destination to try in this round after `tried`, if any.
  std::optional<std::size_t> next_after(std::size_t tried) const;

  /// `destination` failed (or its connection was lost) at `now`.
  void failed(std::size_t destination, clock::time_point now);

  /// Where a connection to `current` belongs at `now`: the first earlier
  /// destination no longer passed over, else `current`.
  std::size_t preferred(std::size_t current, clock::time_point now) const;
  /// The earliest moment an earlier destination than `current` may be
  /// tried again (now, if one may already); nullopt if there is none.
  std::optional<clock::time_point> fail_back_due(std::size_t current, clock::time_point now) const;

  std::size_t size() const { return passed_over_until_.size(); }

 private:
  bool eligible(std::size_t destination) const;

  std::vector<clock::time_point> passed_over_until_;
  clock::duration hold_down_;
  /// The round in progress: when it started, and whether every destination
  /// was passed over then (so all are tried).
  clock::time_point round_start_{};
  bool all_passed_over_ = false;
};

}  // namespace sockpush
