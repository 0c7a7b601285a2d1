#include "sockpush/common/decimal.hpp"

#include <algorithm>
#include <cmath>

#include <fast_float/fast_float.h>

namespace sockpush {

namespace {

/// fast_float rounds an underflow to zero; std::from_chars calls it out of
/// range, which is what the validator's grammar has always refused.
bool underflowed(std::string_view text, double value) {
  if (value != 0) return false;
  auto mantissa = text.substr(0, text.find_first_of("eE"));
  return std::any_of(mantissa.begin(), mantissa.end(), [](char c) { return c >= '1' && c <= '9'; });
}

}  // namespace

std::optional<double> parse_finite_decimal(std::string_view text) {
  double value = 0;
  auto [end, ec] = fast_float::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) ||
      underflowed(text, value))
    return std::nullopt;
  return value;
}

}  // namespace sockpush
