// What a writer reports about its deliveries (self-metrics), apart from any
// I/O: the delivery state machine keeps these too.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace sockpush {

/// Why a TLS handshake to carbon failed (sockpush.tls.handshake_failures.<name>).
enum class tls_failure : std::uint8_t {
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

/// Why a connection ended (sockpush.disconnects.<name>).
enum class disconnect_cause : std::uint8_t { closed_by_peer, reset, timed_out, stalled, other };
inline constexpr std::size_t disconnect_cause_count = 5;
inline constexpr std::array<const char*, disconnect_cause_count> disconnect_cause_names = {
    "closed_by_peer", "reset", "timed_out", "stalled", "other"};

/// Counts indexed by an enum whose values run from 0 to N - 1.
template <typename Enum, std::size_t N>
struct counts_by {
  std::array<std::uint64_t, N> values{};
  std::uint64_t& operator[](Enum e) { return values[static_cast<std::size_t>(e)]; }
  std::uint64_t operator[](Enum e) const { return values[static_cast<std::size_t>(e)]; }
  counts_by& operator+=(const counts_by& other) {
    for (std::size_t i = 0; i < N; ++i) values[i] += other.values[i];
    return *this;
  }
};

/// Self-metrics every writer keeps; cumulative since start.
struct writer_stats {
  std::uint64_t sent_lines = 0;      ///< Lines handed to the peer's kernel (or stdout).
  std::uint64_t reconnects = 0;      ///< Connections re-established after one was lost or failed.
  std::uint64_t replayed_lines = 0;  ///< Lines sent again after a connection failed.
  counts_by<disconnect_cause, disconnect_cause_count> disconnects;
  counts_by<tls_failure, tls_failure_count> tls_handshake_failures;

  /// Adds another writer's counts (a sharded writer reports the sum).
  writer_stats& operator+=(const writer_stats& other) {
    sent_lines += other.sent_lines;
    reconnects += other.reconnects;
    replayed_lines += other.replayed_lines;
    disconnects += other.disconnects;
    tls_handshake_failures += other.tls_handshake_failures;
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
  bool tls_resumed = false;  ///< its live connection resumed a TLS session
  /// Whether it has a buffer of its own (placing modes): then the lines
  /// waiting there (or being written) and those its buffer dropped.
  bool own_buffer = false;
  std::uint64_t buffered_lines = 0;
  std::uint64_t dropped_lines = 0;
};

}  // namespace sockpush
