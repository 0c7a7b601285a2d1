// What a writer reports about its deliveries (self-metrics), apart from any
// I/O: the delivery state machine keeps these too.
#pragma once

#include <array>

#include <cstdint>
#include <string>

namespace sockpush {

/// Why a TLS handshake to carbon failed (sockpush.tls.handshake_failures.<name>).
enum class tls_failure {
  unknown_ca,     ///< the chain does not lead to a trusted CA
  name_mismatch,  ///< the certificate is not for the name asked for
  expired,
  not_yet_valid,
  bad_certificate,  ///< any other verification failure
  handshake,        ///< no verification failure: protocol, alert, timeout, reset
};
inline constexpr std::size_t tls_failure_count = 6;
inline constexpr std::array<const char*, tls_failure_count> tls_failure_names = {
    "unknown_ca", "name_mismatch", "expired", "not_yet_valid", "bad_certificate", "handshake"};

/// Self-metrics every writer keeps; cumulative since start.
struct writer_stats {
  std::uint64_t sent_lines = 0;      ///< Lines handed to the peer's kernel (or stdout).
  std::uint64_t reconnects = 0;      ///< Connections re-established after one was lost or failed.
  std::uint64_t replayed_lines = 0;  ///< Lines sent again after a connection failed.
  /// Connections that ended, by reason.
  std::uint64_t closed_by_peer = 0, reset = 0, timed_out = 0, stalled = 0, other_failures = 0;
  /// TLS handshakes that failed, by tls_failure.
  std::array<std::uint64_t, tls_failure_count> tls_handshake_failures{};

  /// Adds another writer's counts (a sharded writer reports the sum).
  writer_stats& operator+=(const writer_stats& other) {
    sent_lines += other.sent_lines;
    reconnects += other.reconnects;
    replayed_lines += other.replayed_lines;
    closed_by_peer += other.closed_by_peer;
    reset += other.reset;
    timed_out += other.timed_out;
    stalled += other.stalled;
    other_failures += other.other_failures;
    for (std::size_t i = 0; i < tls_failure_count; ++i)
      tls_handshake_failures[i] += other.tls_handshake_failures[i];
    return *this;
  }
};

/// The live connection as the kernel sees it (tcp_info), for self-metrics.
struct connection_info {
  bool connected = false;
  double rtt_ms = 0;
  std::uint64_t retransmits = 0;    ///< segments retransmitted on this connection
  std::uint64_t unacked_bytes = 0;  ///< written, not yet acknowledged (SIOCOUTQ)
  bool tls = false;
  bool tls_resumed = false;  ///< the TLS session of an earlier connection was resumed
};

/// One carbon destination's share of the work, for per-destination metrics.
struct destination_stats {
  std::string name;  ///< carbon_destination::metric_name()
  std::uint64_t sent_lines = 0;
  std::uint64_t reconnects = 0;
  bool connected = false;
};

}  // namespace sockpush
