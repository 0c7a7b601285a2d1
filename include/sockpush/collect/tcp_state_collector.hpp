// TCP sockets in the host's network namespace, from one sock_diag dump per
// address family per round (/proc/net/tcp{,6} without netlink):
//   - counts per state;
//   - per-port counts for configured local and remote ports, and optionally
//     for every listening port;
//   - ephemeral-port pressure per destination: for each remote address and
//     port, the sockets whose local port came from the ephemeral range, in
//     any state. connect() to that destination fails with EADDRNOTAVAIL
//     once it reaches the range size, which is what the nc loops hit;
//   - each listening port's accept queue against its backlog: the kernel
//     drops new connections once the queue is over the backlog;
//   - counts per state for configured peer subnets.
#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "sockpush/collect/collector.hpp"
#include "sockpush/collect/proc_files.hpp"
#include "sockpush/collect/remote_subnets.hpp"
#include "sockpush/collect/sock_diag.hpp"

namespace sockpush {

/// Kernel TCP state numbers (include/net/tcp_states.h) 1..11 index the array.
inline constexpr std::size_t tcp_state_count = 12;
using tcp_state_counts = std::array<std::uint64_t, tcp_state_count>;

/// Metric name of each state, indexed by the kernel's number; [0] is unused.
inline constexpr std::array<std::string_view, tcp_state_count> tcp_state_names = {
    "",          "established", "syn_sent",   "syn_recv", "fin_wait1", "fin_wait2",
    "time_wait", "close",       "close_wait", "last_ack", "listen",    "closing"};

struct tcp_collector_options {
  std::vector<std::uint16_t> local_ports;   ///< like collectd tcpconns LocalPort
  std::vector<std::uint16_t> remote_ports;  ///< like collectd tcpconns RemotePort
  bool listening_ports = false;             ///< also every port with a listener
  bool ephemeral = true;                    ///< per-destination port pressure
  std::size_t ephemeral_top = 5;            ///< destinations reported by name
  bool listen_queues = true;                ///< accept queue and backlog per listening port
  std::vector<remote_subnet> remote_subnets;
};

/// A listening port's fullest listener (several with SO_REUSEPORT or one per
/// address). The backlog is 0 where only /proc was read: it does not show it.
struct listen_queue {
  std::uint32_t accept_queue = 0;
  std::uint32_t backlog = 0;
  /// accept_queue / backlog in percent; over 100 the kernel drops new
  /// connections (it refuses them once the queue exceeds the backlog).
  double fill_percent() const;
};

/// One destination's use of the ephemeral range.
struct destination_usage {
  std::uint8_t family = 0;
  std::array<std::uint8_t, 16> address{};
  std::uint16_t port = 0;
  std::uint64_t used = 0;
  /// "10_0_0_2_2003", "2001_db8__1_2003": one path component.
  std::string metric_name() const;
};

class tcp_state_collector final : public collector {
 public:
  /// Tries netlink first; `force_proc` skips it (tests of the fallback).
  explicit tcp_state_collector(tcp_collector_options options = {}, bool force_proc = false);

  /// Walks the socket tables once. Throws std::system_error if neither
  /// source works.
  void scan();
  /// Results of the last scan().
  const tcp_state_counts& states() const { return states_; }
  const std::map<std::uint16_t, tcp_state_counts>& local_ports() const { return local_counts_; }
  const std::map<std::uint16_t, tcp_state_counts>& remote_ports() const { return remote_counts_; }
  /// Per state, the sockets whose peer is in each subnet, in the order of
  /// tcp_collector_options::remote_subnets.
  const std::vector<tcp_state_counts>& remote_subnet_counts() const { return subnet_counts_; }
  /// Destinations by descending use (at most ephemeral_top).
  std::vector<destination_usage> busiest_destinations() const;

  /// scan() and the state counts (tests and the --once comparison).
  tcp_state_counts count() {
    scan();
    return states_;
  }

  void collect(round_lines& out) override;
  std::string_view name() const override { return "tcp"; }

  socket_table::source source() const { return sockets_.from(); }

 private:
  void visit(const socket_record& s);
  /// Forgets the counts of the scan under way.
  void reset_counts();
  void add_listener(const socket_record& s);

  struct destination_key {
    std::array<std::uint8_t, 16> address;
    std::uint16_t port;
    std::uint8_t family;
    bool operator==(const destination_key&) const = default;
  };
  struct destination_hash {
    std::size_t operator()(const destination_key& k) const;
  };

  tcp_collector_options options_;
  socket_table sockets_;
  std::bitset<65536> tracked_local_, tracked_remote_, listening_;
  tcp_state_counts states_{};
  std::map<std::uint16_t, tcp_state_counts> local_counts_, remote_counts_;
  /// Every local port outside the ephemeral range (server side), kept only
  /// with listening_ports to find the ports that have a listener.
  std::unordered_map<std::uint16_t, tcp_state_counts> server_port_counts_;
  std::optional<ephemeral_ports> ephemeral_;
  std::unordered_map<destination_key, std::uint64_t, destination_hash> destinations_;
  std::map<std::uint16_t, listen_queue> listen_queues_;
  double max_fill_percent_ = 0;
  subnet_table subnets_;
  std::vector<tcp_state_counts> subnet_counts_;
};

}  // namespace sockpush
