// Seeds for jitter, not for secrets.
#pragma once

#include <cstdint>

namespace sockpush {

/// The kernel's getrandom() when it answers at once, else the clock mixed
/// with the process id. Never fails: std::random_device is not used, because
/// libc++ (the musl builds) reads /dev/urandom for it, which a private /dev
/// or a chroot may lack, and then it throws.
std::uint64_t random_seed();

}  // namespace sockpush
