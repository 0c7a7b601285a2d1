// Log lines about input from outside (refused lines, refused clients, a
// job's stderr) are rate-limited, so a source spewing garbage cannot flood
// syslog on a router's small flash.
#pragma once

#include <chrono>
#include <cstdint>

namespace sockpush {

/// Lets through a burst of messages per window and counts the rest.
class log_limiter {
 public:
  using clock = std::chrono::steady_clock;
  explicit log_limiter(std::uint32_t burst = 5, clock::duration window = std::chrono::seconds(10))
      : burst_(burst), window_(window) {}

  /// True if this message may be logged. When a new window opens with
  /// messages held back in the last one, `held_back` receives their number
  /// (otherwise 0) so the caller can say how many it did not log.
  bool allow(std::uint64_t& held_back, clock::time_point now = clock::now());

 private:
  std::uint32_t burst_;
  clock::duration window_;
  clock::time_point window_start_{};
  std::uint32_t logged_ = 0;
  std::uint64_t held_back_ = 0;
};

}  // namespace sockpush
