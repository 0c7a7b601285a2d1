// Routers without a real-time clock boot in 1970 and set the time only once
// NTP answers. Rounds collected before that would reach carbon with 1970
// timestamps (outside every retention: silently dropped). Instead they are
// held, with their age on the monotonic clock, and released with corrected
// timestamps once the wall clock is believable.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "sockpush/collect/collect_config.hpp"

namespace sockpush {

class clock_hold {
 public:
  using steady = std::chrono::steady_clock;

  /// `max_bytes` caps the held rounds; the oldest go first.
  clock_hold(const clock_config& cfg, std::size_t max_bytes);

  /// True if the wall clock reads at least `not_before` (and, if required,
  /// the kernel reports it NTP-synchronised).
  bool trusted(std::int64_t wall_now) const;

  /// Keeps a round collected with timestamp 0 while the clock is untrusted.
  void hold(std::string round, steady::time_point collected);

  /// Appends every held round to `out`, each line's timestamp replaced by
  /// `wall_now` minus the round's age, rounded to `interval`. Returns the
  /// number of rounds released.
  std::size_t release(std::string& out, std::int64_t wall_now, steady::time_point now,
                      std::chrono::milliseconds interval);

  bool holding() const { return !held_.empty(); }
  std::uint64_t dropped_rounds() const { return dropped_rounds_; }

 private:
  struct held_round {
    std::string text;
    steady::time_point collected;
  };
  clock_config cfg_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::deque<held_round> held_;
  std::uint64_t dropped_rounds_ = 0;
};

/// Replaces the last field of every line in `text` with `timestamp`.
std::string restamp_lines(std::string_view text, std::int64_t timestamp);

}  // namespace sockpush
