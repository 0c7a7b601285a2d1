// Everything a user can set, with the built-in defaults. etc/sockpush.toml
// documents each key; the CLI overrides the file.
#pragma once

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sockpush {

using seconds_d = std::chrono::duration<double>;
using std::chrono::milliseconds;

/// A configuration problem: the message names the file, line and key.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct carbon_config {
  /// "host:port" of carbon's plaintext receiver, or "-" for stdout.
  std::string address = "-";
  milliseconds connect_timeout{5000};
  /// Backoff ceilings between connection attempts (full jitter below them).
  milliseconds reconnect_min{500};
  milliseconds reconnect_max{30000};
  /// TCP_USER_TIMEOUT: unacknowledged data older than this ends the connection.
  milliseconds user_timeout{30000};
  /// Keepalive probes on an idle connection: first after `keepalive_idle`,
  /// then every `keepalive_interval`, `keepalive_count` unanswered ones end it.
  milliseconds keepalive_idle{30000};
  milliseconds keepalive_interval{10000};
  int keepalive_count = 3;
};

struct config {
  carbon_config carbon;
  /// Prefix template for every metric path; `{host}` is the short hostname.
  std::string prefix = "{host}";
  /// Time between collection rounds.
  milliseconds interval{10000};
  /// Cap on lines waiting for carbon, in bytes.
  std::size_t buffer_max_bytes = 4 * 1024 * 1024;
  /// How long SIGTERM/SIGINT or --once may spend delivering what is buffered.
  milliseconds shutdown_timeout{5000};
  /// spdlog level name: trace, debug, info, warn, error, critical, off.
  std::string log_level = "info";
};

/// Reads and validates a TOML file. Throws config_error.
config load_config(const std::string& path);

/// Same, from text (tests, and the file once read); `origin` names it in errors.
config parse_config(std::string_view text, const std::string& origin);

/// Checks cross-field rules (also after CLI overrides). Throws config_error.
void validate(const config& cfg);

/// Parses "1", "0.2", "1.5" (seconds) as the CLI and TOML accept them.
/// Throws config_error for non-numbers, non-finite or non-positive values.
milliseconds parse_seconds(std::string_view text, std::string_view what);

}  // namespace sockpush
