// When rounds happen: on multiples of the interval since the epoch, so every
// host (and every job) samples at the same wall-clock instants and
// timestamps are evenly spaced whenever the process started.
#pragma once

#include <chrono>
#include <cstdint>

namespace sockpush {

class interval_schedule {
 public:
  using system_clock = std::chrono::system_clock;

  explicit interval_schedule(std::chrono::milliseconds interval,
                             system_clock::time_point now = system_clock::now());

  /// How long to sleep on the steady clock before the next round, measured
  /// against the wall clock each time: a clock step (NTP on a router that
  /// booted in 1970) costs at most one odd round, never a sleep of years.
  std::chrono::milliseconds wait(system_clock::time_point now = system_clock::now()) const;

  /// Unix time of the round that is due.
  std::int64_t due() const;

  /// Moves to the next boundary after a round; a round that overran skips
  /// the boundaries it missed instead of bursting to catch up.
  /// Returns the number of boundaries skipped.
  std::uint64_t advance(system_clock::time_point now = system_clock::now());

 private:
  std::chrono::milliseconds interval_;
  system_clock::time_point next_;
};

}  // namespace sockpush
