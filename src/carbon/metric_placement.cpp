#include "sockpush/carbon/metric_placement.hpp"

#include <stdexcept>

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
                                   const std::vector<carbon_destination>& nodes)
    : ring_(ring_for(mode, nodes)) {}

}  // namespace sockpush
