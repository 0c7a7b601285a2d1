// The one parser for decimal numbers with a fraction or an exponent, in every
// build: libc++ (the musl builds) has no std::from_chars for double.
#pragma once

#include <optional>
#include <string_view>

namespace sockpush {

/// The value of `text` if all of it is one finite number in from_chars'
/// general format ("42", "-0.5", "1e-3"; no sign '+', no spaces, no hex).
/// Refused, as libstdc++'s std::from_chars refuses them: "nan", "inf", and
/// numbers out of double's range either way ("1e999", "1e-999": a non-zero
/// number that would round to zero).
std::optional<double> parse_finite_decimal(std::string_view text);

}  // namespace sockpush
