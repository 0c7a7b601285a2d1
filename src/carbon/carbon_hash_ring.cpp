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
    hosts_.push_back(nodes[index].where.host);
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

std::size_t carbon_hash_ring::start_of(std::string_view metric) const {
  const auto at = position(metric);
  auto it = std::lower_bound(ring_.begin(), ring_.end(), at,
                             [](const auto& entry, std::uint32_t p) { return entry.first < p; });
  return it == ring_.end() ? 0 : static_cast<std::size_t>(it - ring_.begin());
}

std::size_t carbon_hash_ring::node_for(std::string_view metric) const {
  return ring_[start_of(metric)].second;
}

std::vector<std::size_t> carbon_hash_ring::nodes_for(std::string_view metric, std::size_t count,
                                                     bool diverse_hosts) const {
  // A ring of one node: carbon's get_nodes hands it out before any walk.
  if (hosts_.size() == 1) return std::vector<std::size_t>(count > 0 ? 1 : 0, 0);
  std::vector<std::size_t> chosen;
  std::vector<bool> met(hosts_.size());
  std::set<std::string_view> hosts_holding;
  // carbon's get_nodes stops one entry short of a full turn: the entry just
  // before the start is never looked at.
  const auto first = start_of(metric);
  const auto stop = (first + ring_.size() - 1) % ring_.size();
  for (auto at = first; chosen.size() < count && at != stop; at = (at + 1) % ring_.size()) {
    const auto node = ring_[at].second;
    if (met[node]) continue;
    met[node] = true;
    if (diverse_hosts && !hosts_holding.insert(hosts_[node]).second) continue;
    chosen.push_back(node);
  }
  return chosen;
}

}  // namespace sockpush
