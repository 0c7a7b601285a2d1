// Everything a user can set, with the built-in defaults. etc/sockpush.toml
// documents each key; the CLI overrides the file.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sockpush/line_validator.hpp"

namespace sockpush {

using seconds_d = std::chrono::duration<double>;
using std::chrono::milliseconds;

/// A configuration problem: the message names the file, line and key.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How lines are spread over several carbon destinations.
enum class destination_mode {
  /// All lines to the first destination that works; back to an earlier one
  /// once it has worked again for `hold_down`.
  failover,
  /// Each metric to the carbon-cache that carbon's own consistent-hashing
  /// relay would choose; one connection per destination.
  carbon_ch,
};

struct carbon_config {
  /// carbon's plaintext receivers as "host:port[:instance]", or just "-" for
  /// stdout. TOML: `address` (one) or `destinations` (a list); CLI: --carbon.
  std::vector<std::string> destinations{"-"};
  destination_mode mode = destination_mode::failover;
  /// failover: a destination that failed is passed over for this long; a
  /// recovered earlier one is taken back no sooner than this after it failed.
  milliseconds hold_down{30000};
  /// Reconnect this often even when all is well (load balancers, DNS
  /// changes), opening the new connection before closing the old one. Zero:
  /// never.
  milliseconds reconnect_interval{0};
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
  /// SO_SNDBUF: caps what the kernel holds for a peer that stopped reading,
  /// and so what must be replayed after a failure.
  std::size_t send_buffer = 131072;
  /// A write that makes no progress for this long ends the connection.
  milliseconds stall_timeout{30000};
  /// After a reconnect, also re-send what was written this long before the
  /// failure (covers data carbon's kernel acknowledged but carbon never
  /// stored). Zero: only the bytes the peer never acknowledged.
  milliseconds replay_window{0};
  /// When carbon itself ends the connection (FIN or reset: it is stopping),
  /// also re-send what was written this long before: carbon-cache drops
  /// the points it read since its last write pass (about a second) when it
  /// stops. Zero: off.
  milliseconds peer_close_replay{2000};
  /// A line may wait this long for the ones after it, so a producer that
  /// writes line by line fills packets instead of sending one per line.
  /// Zero: written at once (the daemon's rounds come in whole already).
  milliseconds flush_delay{0};
};

/// A local listener for lines from scripts ([[listen]]).
struct listen_config {
  /// "tcp://127.0.0.1:2003", "udp://[::1]:2003" or "unix:///run/sockpush.sock".
  std::string address;
  /// TCP/unix clients served at once; more are accepted and closed at once.
  std::size_t max_clients = 64;
  /// A client that sends nothing for this long is disconnected.
  milliseconds idle_timeout{60000};
  /// Binding to anything but loopback must be asked for explicitly.
  bool allow_remote = false;
};

/// A program run on a schedule whose stdout lines are forwarded ([[exec]]).
struct exec_config {
  /// Names the job in logs and self-metrics; default: the program's file name.
  std::string name;
  /// argv; no shell unless the user writes ["sh", "-c", "..."].
  std::vector<std::string> command;
  /// Zero means the [collect] interval.
  milliseconds interval{0};
  /// A run longer than this is killed; zero means the job's interval.
  milliseconds timeout{0};
  /// Prepend the [collect] prefix to the job's (relative) metric names.
  bool prefix = false;
};

/// What the built-in collectors gather ([collectors]).
struct collectors_config {
  std::vector<std::uint16_t> tcp_local_ports;
  std::vector<std::uint16_t> tcp_remote_ports;
  bool tcp_listening_ports = false;
  bool ephemeral = true;
  std::size_t ephemeral_top = 5;
  bool udp = true;
  bool sockstat = true;
  bool netstat = true;
  /// "Group.Name" counters; empty means the built-in list.
  std::vector<std::string> netstat_counters;
  bool netstat_rates = false;
  bool conntrack = true;
  std::size_t conntrack_top_ports = 5;
  bool settings = true;
};

/// When this binary was built (Unix time; SOURCE_DATE_EPOCH if set then).
std::int64_t build_epoch();

/// Routers without a real-time clock boot in 1970 ([clock]).
struct clock_config {
  /// Rounds collected while the system clock reads earlier than this (Unix
  /// time) are held and sent with corrected timestamps once it is set.
  /// Default: when this binary was built.
  std::int64_t not_before = build_epoch();
  /// Also hold while the kernel says the clock is not NTP-synchronised.
  bool require_sync = false;
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
  /// Where undelivered lines are spooled at shutdown; empty: systemd's
  /// $STATE_DIRECTORY if set, else no spool.
  std::string state_dir;
  /// `sockpush send`: its carbon.flush_delay ([send] flush_ms, --flush-ms).
  milliseconds send_flush{50};
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
