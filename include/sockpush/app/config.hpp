// Everything a user can set, with the built-in defaults: each part's own
// settings plus the daemon's. etc/sockpush.toml
// documents each key; the CLI overrides the file.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sockpush/buffer/outage_spool.hpp"
#include "sockpush/carbon/carbon_config.hpp"
#include "sockpush/collect/collect_config.hpp"
#include "sockpush/common/config_error.hpp"
#include "sockpush/intake/intake_config.hpp"
#include "sockpush/intake/line_validator.hpp"

namespace sockpush {

using seconds_d = std::chrono::duration<double>;
using std::chrono::milliseconds;

struct config {
  carbon_config carbon;
  /// Prefix template for every metric path; `{host}` is the short hostname.
  std::string prefix = "{host}";
  /// Time between collection rounds.
  milliseconds interval{10000};
  /// Cap on lines waiting for carbon, in bytes.
  std::size_t buffer_max_bytes = 4 * 1024 * 1024;
  /// [buffer] spool_*: the outage queue on disk (directory "": state_dir).
  outage_spool_settings spool;
  /// How long SIGTERM/SIGINT or --once may spend delivering what is buffered.
  milliseconds shutdown_timeout{5000};
  /// The outage queue's directory when spool.directory is empty; empty:
  /// systemd's $STATE_DIRECTORY if set, else no outage queue.
  std::string state_dir;
  /// `sockpush send`: its carbon.flush_delay ([send] flush_ms, --flush-ms).
  milliseconds send_flush_ms{50};
  /// Path characters outside the safe set in lines from outside.
  path_policy path_chars = path_policy::reject;
  std::vector<listen_config> listeners;
  std::vector<exec_config> exec_jobs;
  collectors_config collectors;
  clock_config clock;
  /// spdlog level name: trace, debug, info, warn, error, critical, off.
  std::string log_level = "info";
  /// "stderr" or "syslog".
  std::string log_target = "stderr";
  bool operator==(const config&) const = default;
};

/// Reads and validates a TOML file. Throws config_error.
config load_config(const std::string& path);

/// Same, from text (tests, and the file once read); `origin` names it in errors.
config parse_config(std::string_view text, const std::string& origin);

/// Checks cross-field rules (also after CLI overrides). Throws config_error.
void validate(const config& cfg);

/// One key of the file, for its documentation: etc/sockpush.toml, the man
/// page and the README must each show every key, with this default.
struct config_key {
  std::string section;  ///< "carbon"; "listen" and "exec" for their [[tables]]
  std::string key;
  /// The built-in default as TOML writes it ("30", "\"failover\"", "[]");
  /// nullopt where it is not a fixed value (the build's date, another key's).
  std::optional<std::string> default_value;
};

/// Every key, from the tables the file is read with.
std::vector<config_key> config_keys();

/// Parses "1", "0.2", "1.5" (seconds) as the CLI and TOML accept them.
/// Throws config_error for non-numbers, non-finite or non-positive values.
milliseconds parse_seconds(std::string_view text, std::string_view what);

}  // namespace sockpush
