// Which destinations each metric goes to, by the hashing `carbon.mode` names
// (carbon's carbon_ch or carbon-c-relay's fnv1a_ch and jump_fnv1a_ch) and
// `carbon.replication`: the members the relay of that mode would choose.
#pragma once

#include <cstddef>
#include <string>
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
  /// configuration order. Each metric goes to `copies` of them (fewer only
  /// where carbon_ch's `diverse_hosts` runs out of hosts).
  metric_placement(destination_mode mode, const std::vector<carbon_destination>& nodes,
                   std::size_t copies = 1, bool diverse_hosts = true);

  /// Index into the nodes of the destination for `metric`'s first copy, the
  /// path exactly as sent.
  std::size_t node_for(std::string_view metric) const {
    return std::visit([metric](const auto& ring) { return ring.node_for(metric); }, ring_);
  }

  /// The destinations of every copy of `metric`, in the relay's order, into
  /// `out` (no allocation once it has room for them).
  void nodes_for(std::string_view metric, std::vector<std::size_t>& out) const;
  std::vector<std::size_t> nodes_for(std::string_view metric) const {
    std::vector<std::size_t> out;
    nodes_for(metric, out);
    return out;
  }

  std::size_t copies() const { return copies_; }

 private:
  std::variant<carbon_hash_ring, fnv1a_hash_ring, jump_fnv1a_hash> ring_;
  std::size_t copies_;
  bool diverse_hosts_;
};

/// Lines split by destination: `lines[i]` holds `counts[i]` lines for node i.
struct placed_lines {
  explicit placed_lines(std::size_t nodes) : lines(nodes), counts(nodes) {}
  std::vector<std::string> lines;
  std::vector<std::size_t> counts;
  /// Scratch: the members of the line being placed.
  std::vector<std::size_t> members;
};

/// Appends each of `batch`'s lines ('\n'-terminated, "path value ts") to
/// the destinations `placement` gives its path, one copy each.
void place_lines(const metric_placement& placement, std::string_view batch, placed_lines& out);

}  // namespace sockpush
