#include "sockpush/common/random_seed.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <chrono>

namespace sockpush {

std::uint64_t random_seed() {
  std::uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof seed))
    return seed;
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return static_cast<std::uint64_t>(now) * 0x9E3779B97F4A7C15ull ^
         static_cast<std::uint64_t>(::getpid());
}

}  // namespace sockpush
