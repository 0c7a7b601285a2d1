// Delay between connection attempts: exponential growth with full jitter, so
// that many routers restarting together do not reconnect in lockstep.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace sockpush {

class backoff {
 public:
  using duration = std::chrono::milliseconds;

  /// `initial` is the ceiling of the first delay; the ceiling doubles per
  /// failed attempt up to `max`. `seed` makes the sequence reproducible.
  backoff(duration initial, duration max, std::uint64_t seed);

  /// Delay before the next attempt: uniform in [0, ceiling], never above `max`.
  duration next();

  /// Forget earlier failures (called once a connection succeeds).
  void reset() { attempt_ = 0; }

  /// Failed attempts since the last reset.
  unsigned attempts() const { return attempt_; }

  /// Ceiling for the current attempt, before jitter.
  duration ceiling() const;

 private:
  duration initial_;
  duration max_;
  unsigned attempt_ = 0;
  std::minstd_rand rng_;
};

}  // namespace sockpush
