#include "sockpush/carbon/metric_placement.hpp"

#include <algorithm>
#include <stdexcept>

#include "sockpush/common/overloaded.hpp"

namespace sockpush {
namespace {

std::variant<carbon_hash_ring, fnv1a_hash_ring, jump_fnv1a_hash> ring_for(
    destination_mode mode, const std::vector<carbon_destination>& nodes) {
  switch (mode) {
    case destination_mode::carbon_ch:
      return carbon_hash_ring(nodes);
    case destination_mode::fnv1a_ch:
      return fnv1a_hash_ring(nodes);
    case destination_mode::jump_fnv1a_ch:
      return jump_fnv1a_hash(nodes);
    case destination_mode::failover:
      break;
  }
  throw std::invalid_argument("failover places no metric");
}

}  // namespace

metric_placement::metric_placement(destination_mode mode,
                                   const std::vector<carbon_destination>& nodes, std::size_t copies,
                                   bool diverse_hosts)
    : ring_(ring_for(mode, nodes)), copies_(copies), diverse_hosts_(diverse_hosts) {
  if (copies == 0 || copies > nodes.size())
    throw std::invalid_argument("a metric needs 1 to node-count copies");
}

void metric_placement::nodes_for(std::string_view metric, std::vector<std::size_t>& out) const {
  std::visit(overloaded{[&](const carbon_hash_ring& ring) {
                          ring.nodes_for(metric, copies_, diverse_hosts_, out);
                        },
                        [&](const auto& ring) { ring.nodes_for(metric, copies_, out); }},
             ring_);
}

void place_lines(const metric_placement& placement, std::string_view batch, placed_lines& out) {
  const bool one_copy = placement.copies() == 1;
  while (!batch.empty()) {
    // Lines in the buffer end in '\n'; a last one without it is taken whole
    // rather than looped over.
    const auto line = batch.substr(0, std::min(batch.find('\n'), batch.size() - 1) + 1);
    batch.remove_prefix(line.size());
    const auto path = line.substr(0, line.find(' '));
    auto add = [&](std::size_t to) {
      out.lines[to].append(line);
      ++out.counts[to];
    };
    if (one_copy) {
      add(placement.node_for(path));
      continue;
    }
    placement.nodes_for(path, out.members);
    for (auto to : out.members) add(to);
  }
}

}  // namespace sockpush
