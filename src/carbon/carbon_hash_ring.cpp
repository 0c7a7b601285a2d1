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
    std::size_t first_on_host = 0;
    while (nodes[first_on_host].where.host != nodes[index].where.host) ++first_on_host;
    host_of_.push_back(first_on_host);
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

void carbon_hash_ring::nodes_for(std::string_view metric, std::size_t count, bool diverse_hosts,
                                 std::vector<std::size_t>& out) const {
  out.clear();
  // A ring of one node: carbon's get_nodes hands it out before any walk.
  if (host_of_.size() == 1) {
    if (count > 0) out.push_back(0);
    return;
  }
  // A node met before was chosen or, with diverse hosts, shares a chosen
  // one's host (and still does): passing over both is carbon's rule. carbon's
  // get_nodes stops one entry short of a full turn: the entry just before
  // the start is never looked at.
  auto passed_over = [&](std::size_t node) {
    return std::any_of(out.begin(), out.end(), [&](std::size_t chosen) {
      return chosen == node || (diverse_hosts && host_of_[chosen] == host_of_[node]);
    });
  };
  const auto first = start_of(metric);
  const auto stop = (first + ring_.size() - 1) % ring_.size();
  for (auto at = first; out.size() < count && at != stop; at = (at + 1) % ring_.size())
    if (!passed_over(ring_[at].second)) out.push_back(ring_[at].second);
}

}  // namespace sockpush
