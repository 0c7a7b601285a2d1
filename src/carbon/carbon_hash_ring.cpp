#include "sockpush/carbon/carbon_hash_ring.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "sockpush/carbon/md5.hpp"

namespace sockpush {
namespace {

/// Python's repr() of the node tuple (server, instance): the hosts and
/// instances parse_carbon_destination() admits need no escaping.
std::string python_node_repr(const carbon_destination& node) {
  return "('" + node.where.host + "', " +
         (node.instance.empty() ? std::string("None") : "'" + node.instance + "'") + ")";
}

}  // namespace

std::uint32_t carbon_hash_ring::position(std::string_view key) {
  auto digest = md5(key);
  return std::uint32_t{digest[0]} << 8 | digest[1];
}

carbon_hash_ring::carbon_hash_ring(const std::vector<carbon_destination>& nodes, int replicas) {
  if (nodes.empty()) throw std::invalid_argument("a hash ring needs at least one node");
  std::set<std::uint32_t> taken;
  for (std::size_t index = 0; index < nodes.size(); ++index) {
    const auto node = python_node_repr(nodes[index]);
    for (int replica = 0; replica < replicas; ++replica) {
      auto at = position(node + ":" + std::to_string(replica));
      while (taken.count(at)) ++at;
      taken.insert(at);
      ring_.emplace_back(at, index);
    }
  }
  std::sort(ring_.begin(), ring_.end());
}

std::size_t carbon_hash_ring::node_for(std::string_view metric) const {
  const auto at = position(metric);
  auto it = std::lower_bound(ring_.begin(), ring_.end(), at,
                             [](const auto& entry, std::uint32_t p) { return entry.first < p; });
  return it == ring_.end() ? ring_.front().second : it->second;
}

}  // namespace sockpush
