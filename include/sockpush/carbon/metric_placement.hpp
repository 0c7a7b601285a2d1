// Which destination each metric goes to, by the hashing `carbon.mode` names:
// carbon's carbon_ch or carbon-c-relay's fnv1a_ch and jump_fnv1a_ch.
#pragma once

#include <cstddef>
#include <string_view>
#include <variant>
#include <vector>

#include "sockpush/carbon/carbon_config.hpp"
#include "sockpush/carbon/carbon_hash_ring.hpp"
#include "sockpush/carbon/relay_hash_rings.hpp"

namespace sockpush {

class metric_placement {
 public:
  /// `mode` must place each metric (places_each_metric); `nodes` in
  /// configuration order.
  metric_placement(destination_mode mode, const std::vector<carbon_destination>& nodes);

  /// Index into the nodes of the destination for `metric`, the path exactly
  /// as sent.
  std::size_t node_for(std::string_view metric) const {
    return std::visit([metric](const auto& ring) { return ring.node_for(metric); }, ring_);
  }

 private:
  std::variant<carbon_hash_ring, fnv1a_hash_ring, jump_fnv1a_hash> ring_;
};

}  // namespace sockpush
