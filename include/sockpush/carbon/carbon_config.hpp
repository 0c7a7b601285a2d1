// What a user can set for the carbon output ([carbon]), with the defaults.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sockpush/carbon/destination.hpp"

namespace sockpush {

using std::chrono::milliseconds;

/// How lines are spread over several carbon destinations.
enum class destination_mode {
  /// All lines to the first destination that works; back to an earlier one
  /// once it has worked again for `hold_down`.
  failover,
  /// Each metric to the carbon-cache that carbon's own consistent-hashing
  /// relay would choose; one connection per destination.
  carbon_ch,
  /// Likewise, placed as carbon-c-relay's cluster types of these names place
  /// them (relay_hash_rings.hpp).
  fnv1a_ch,
  jump_fnv1a_ch,
};

/// Whether each metric has one destination of its own (one connection per
/// destination) rather than all lines going to the first that works.
constexpr bool places_each_metric(destination_mode mode) {
  return mode != destination_mode::failover;
}

/// TLS to carbon ([carbon] tls_*): off unless asked for.
struct tls_config {
  bool enabled = false;
  /// Off only when spelled out (tls_verify = false); warned about at every start.
  bool verify = true;
  /// PEM file of the CAs to trust; empty: the system's trust store.
  std::string ca_file;
  /// The name the certificate must hold, also sent as SNI; empty: each
  /// destination's host (an IP address is checked as one).
  std::string server_name;
  /// A client certificate (chain) and its key, PEM, for mutual TLS.
  std::string cert_file, key_file;
  /// Oldest protocol accepted: 0x0303 (TLS 1.2) or 0x0304 (TLS 1.3).
  int min_version = 0x0303;
  bool operator==(const tls_config&) const = default;
};

struct carbon_config {
  /// carbon's plaintext receivers in order of preference, parsed from
  /// "host:port[:instance]" or "host[:port]=instance" (TOML: `address` or `destinations`; CLI:
  /// --carbon). None: the lines go to standard output ("-").
  std::vector<carbon_destination> destinations;
  destination_mode mode = destination_mode::failover;
  /// How many members each metric goes to in the placing modes, chosen as
  /// the relay of that mode chooses them (carbon's REPLICATION_FACTOR,
  /// carbon-c-relay's `replication`).
  std::size_t replication = 1;
  /// carbon_ch: a member whose host already holds a copy of a metric is
  /// passed over for the next copy (carbon's DIVERSE_REPLICAS, on by default).
  bool diverse_replicas = true;
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
  milliseconds replay_seconds{0};
  /// When carbon itself ends the connection (FIN or reset: it is stopping),
  /// also re-send what was written this long before: carbon-cache drops
  /// the points it read since its last write pass (about a second) when it
  /// stops. Zero: off.
  milliseconds peer_close_replay_seconds{2000};
  /// A line may wait this long for the ones after it, so a producer that
  /// writes line by line fills packets instead of sending one per line.
  /// Zero: written at once (the daemon's rounds come in whole already).
  milliseconds flush_delay{0};
  tls_config tls;
  bool operator==(const carbon_config&) const = default;
};

/// Parses destinations as written ("host:port[:instance]"; "-" alone: standard
/// output, which is no destination). Throws config_error naming `key`, the
/// entry and what is wrong, also for one listed twice in `mode`'s terms.
std::vector<carbon_destination> parse_destinations(const std::vector<std::string>& texts,
                                                   destination_mode mode, std::string_view key);

/// With TLS on: the tls_* settings go together and their files load. Throws
/// config_error naming the key, the file and OpenSSL's reason.
void check_tls(const tls_config& tls);

/// replication against the mode and the destinations. Throws config_error.
void check_replication(const carbon_config& carbon);

/// Logs the warning a carbon_ch start gets when diverse_replicas leaves
/// fewer hosts than copies (carbon then sends fewer copies, and so do we).
void warn_if_fewer_hosts_than_copies(const carbon_config& carbon);

/// Logs the warning a start with certificate verification off gets.
void warn_if_unverified(const tls_config& tls);

}  // namespace sockpush
