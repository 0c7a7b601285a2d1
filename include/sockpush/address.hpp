// Parsing of "host:port" destinations as users write them for nc and carbon.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sockpush {

/// Carbon's plaintext port, the default when a destination names no port.
inline constexpr std::string_view default_carbon_port = "2003";

/// A destination as configured: resolved again on every connection attempt.
struct host_port {
  std::string host;  ///< Name or literal address, without IPv6 brackets.
  std::string port;  ///< Decimal port number 1..65535.

  /// "host:port" again, with brackets around IPv6 literals.
  std::string to_string() const;
};

/// Accepts "host", "host:port", "[v6]:port", "[v6]" and a bare IPv6 literal.
/// Returns nullopt (and sets `why`) for anything else.
std::optional<host_port> parse_host_port(std::string_view text, std::string* why = nullptr);

}  // namespace sockpush
