// carbon's consistent hashing (RELAY_METHOD = consistent-hashing, hash type
// carbon_ch, 100 replicas per node), reproduced so that sockpush can feed a
// carbon cluster without a relay and every metric lands on the same
// carbon-cache that carbon-relay would have chosen.
//
// carbon keys each node by the Python tuple (server, instance) and each
// replica by "%s:%d" % (node, i), i.e. "('host', 'a'):0" or "('host', None):0".
// A position is the first 4 hex digits of the MD5 of that text; a taken
// position moves up by one, so the order of the destinations matters, as it
// does in carbon's DESTINATIONS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sockpush/carbon/destination.hpp"

namespace sockpush {

class carbon_hash_ring {
 public:
  /// `nodes` in configuration order; (host, instance) pairs must be unique.
  explicit carbon_hash_ring(const std::vector<carbon_destination>& nodes, int replicas = 100);

  /// Index into the nodes of the one carbon's relay chooses for `metric`
  /// (REPLICATION_FACTOR = 1), by the metric path exactly as sent.
  std::size_t node_for(std::string_view metric) const;

  /// The `count` nodes carbon's relay sends `metric` to with
  /// REPLICATION_FACTOR = count (ConsistentHashingRouter.getDestinations),
  /// into `out`: the distinct nodes met walking the ring from the metric's
  /// position, in that order; with `diverse_hosts` (carbon's DIVERSE_REPLICAS,
  /// on by default) a node whose host already holds a copy is passed over, so
  /// fewer than `count` come back when there are fewer hosts. No allocation
  /// once `out` has room for them.
  void nodes_for(std::string_view metric, std::size_t count, bool diverse_hosts,
                 std::vector<std::size_t>& out) const;

  /// carbon's position for a key: the first 16 bits of its MD5.
  static std::uint32_t position(std::string_view key);

 private:
  /// The first entry at or after the metric's position (wrapping).
  std::size_t start_of(std::string_view metric) const;

  /// (position, node index), sorted; positions are unique.
  std::vector<std::pair<std::uint32_t, std::size_t>> ring_;
  /// Each node's host as carbon compares them for DIVERSE_REPLICAS: the
  /// index of the first node on the same host.
  std::vector<std::size_t> host_of_;
};

}  // namespace sockpush
