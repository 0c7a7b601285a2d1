// MD5, only because carbon's consistent hashing places metrics by it: not
// used for anything that needs a secure hash.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace sockpush {

/// The 16-byte MD5 digest of `data` (RFC 1321).
std::array<std::uint8_t, 16> md5(std::string_view data);

}  // namespace sockpush
