// carbon-c-relay's own placements (cluster types fnv1a_ch and jump_fnv1a_ch),
// reproduced so that sockpush can feed a cluster that a carbon-c-relay or a
// go-carbon fed before, with every metric landing where the relay put it.
//
// fnv1a_ch: a ring of 100 positions per member, each the 32-bit FNV-1a of
// "i-host:port" (or "i-instance" when the member names one, which makes the
// key independent of where the member lives), folded to 16 bits. Ties sort by
// host text, then port; a metric goes to the first position at or after its
// own.
//
// jump_fnv1a_ch: Lamping and Veach's jump consistent hash of the metric's
// 64-bit FNV-1a over the members in order: those with an instance first,
// sorted by it (as numbers when both are), then the rest as listed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "sockpush/carbon/destination.hpp"

namespace sockpush {

/// FNV-1a over the bytes of `text` as unsigned bytes, as go-carbon hashes
/// them. (carbon-c-relay hashes C chars, signed on x86, but it rewrites every
/// byte outside ASCII to '_' before it hashes, so the two never differ.)
std::uint32_t fnv1a_32(std::string_view text);
std::uint64_t fnv1a_64(std::string_view text);

class fnv1a_hash_ring {
 public:
  explicit fnv1a_hash_ring(const std::vector<carbon_destination>& nodes);
  /// Index into the nodes (in configuration order) of the one for `metric`.
  std::size_t node_for(std::string_view metric) const;
  /// The `count` nodes (at most the node count) carbon-c-relay sends `metric`
  /// to with `replication count`, into `out`: the distinct nodes met walking
  /// the ring from the metric's position, in that order.
  void nodes_for(std::string_view metric, std::size_t count, std::vector<std::size_t>& out) const;
  /// The 16-bit ring position of a key.
  static std::uint16_t position(std::string_view key);

 private:
  /// The first entry at or after the metric's position (wrapping).
  std::size_t start_of(std::string_view metric) const;

  /// (position, node index), sorted; of equal positions, the first decides.
  std::vector<std::pair<std::uint16_t, std::size_t>> ring_;
  std::size_t node_count_ = 0;
};

class jump_fnv1a_hash {
 public:
  explicit jump_fnv1a_hash(const std::vector<carbon_destination>& nodes);
  std::size_t node_for(std::string_view metric) const;
  /// The `count` nodes (at most the node count) carbon-c-relay sends
  /// `metric` to with `replication count`, into `out`: a jump to one
  /// bucket, that bucket taken out (the last one moves into its place), the
  /// hash stirred by a xorshift, and again.
  void nodes_for(std::string_view metric, std::size_t count, std::vector<std::size_t>& out) const;
  /// The jump hash: a bucket in [0, buckets) for `key`.
  static std::size_t bucket(std::uint64_t key, std::size_t buckets);

 private:
  /// Bucket number to node index, in the relay's member order.
  std::vector<std::size_t> order_;
};

}  // namespace sockpush
