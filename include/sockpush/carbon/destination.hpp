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
  bool operator==(const host_port&) const = default;
};

/// Accepts "host", "host:port", "[v6]:port", "[v6]" and a bare IPv6 literal.
/// Returns nullopt (and sets `why`) for anything else.
std::optional<host_port> parse_host_port(std::string_view text, std::string* why = nullptr);

/// One of several carbon destinations, written as carbon's own DESTINATIONS
/// setting writes them, "host:port" or "host:port:instance", or as a
/// carbon-c-relay cluster member, "host[:port]=instance".
struct carbon_destination {
  host_port where;
  /// carbon-cache instance name; empty when none was written (carbon's None).
  std::string instance;

  /// As written: "host:port[:instance]", IPv6 hosts in brackets.
  std::string to_string() const;
  /// The same, usable as one node of a metric path: "127_0_0_1_2003_a".
  std::string metric_name() const;
  bool operator==(const carbon_destination&) const = default;
};

/// Accepts what parse_host_port() accepts, plus ":instance" after a port or
/// "=instance".
/// Host and instance may only hold letters, digits and "._-" (":" in IPv6
/// literals): carbon's hash ring is keyed by their Python repr().
std::optional<carbon_destination> parse_carbon_destination(std::string_view text,
                                                           std::string* why = nullptr);

}  // namespace sockpush
