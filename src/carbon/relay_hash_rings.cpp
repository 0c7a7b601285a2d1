#include "sockpush/carbon/relay_hash_rings.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace sockpush {
namespace {

void require_nodes(const std::vector<carbon_destination>& nodes) {
  if (nodes.empty()) throw std::invalid_argument("a hash ring needs at least one node");
}

/// The relay's member order for jump_fnv1a_ch: members with an instance
/// first, by instance (as numbers when both are whole numbers), the others
/// in the order they are listed.
bool jump_order_less(const carbon_destination& a, const carbon_destination& b) {
  if (a.instance.empty() || b.instance.empty()) return !a.instance.empty() && b.instance.empty();
  char* end = nullptr;
  const long left = std::strtol(a.instance.c_str(), &end, 10);
  if (*end == '\0') {
    const long right = std::strtol(b.instance.c_str(), &end, 10);
    if (*end == '\0') return left < right;
  }
  return a.instance < b.instance;
}

}  // namespace

std::uint32_t fnv1a_32(std::string_view text) {
  std::uint32_t hash = 2166136261u;
  for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  return hash;
}

std::uint64_t fnv1a_64(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return hash;
}

std::uint16_t fnv1a_hash_ring::position(std::string_view key) {
  const auto hash = fnv1a_32(key);
  return static_cast<std::uint16_t>((hash >> 16) ^ (hash & 0xFFFF));
}

fnv1a_hash_ring::fnv1a_hash_ring(const std::vector<carbon_destination>& nodes)
    : node_count_(nodes.size()) {
  require_nodes(nodes);
  constexpr int replicas = 100;
  for (std::size_t index = 0; index < nodes.size(); ++index) {
    const auto& node = nodes[index];
    const auto key =
        node.instance.empty() ? node.where.host + ":" + node.where.port : node.instance;
    for (int replica = 0; replica < replicas; ++replica)
      ring_.emplace_back(position(std::to_string(replica) + "-" + key), index);
  }
  auto port = [&](std::size_t i) { return std::stoul(nodes[i].where.port); };
  std::sort(ring_.begin(), ring_.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    const auto& host_a = nodes[a.second].where.host;
    const auto& host_b = nodes[b.second].where.host;
    if (host_a != host_b) return host_a < host_b;
    return port(a.second) < port(b.second);
  });
  for (std::size_t i = 1; i < ring_.size(); ++i)
    if (ring_[i].first == ring_[i - 1].first) ring_[i].second = ring_[i - 1].second;
}

std::size_t fnv1a_hash_ring::start_of(std::string_view metric) const {
  const auto at = position(metric);
  auto it = std::lower_bound(ring_.begin(), ring_.end(), at,
                             [](const auto& entry, std::uint16_t p) { return entry.first < p; });
  return it == ring_.end() ? 0 : static_cast<std::size_t>(it - ring_.begin());
}

std::size_t fnv1a_hash_ring::node_for(std::string_view metric) const {
  return ring_[start_of(metric)].second;
}

void fnv1a_hash_ring::nodes_for(std::string_view metric, std::size_t count,
                                std::vector<std::size_t>& out) const {
  out.clear();
  count = std::min(count, node_count_);
  // One turn at most: a node whose every position another node shares
  // (they go to the first) is never met.
  auto at = start_of(metric);
  for (std::size_t step = 0; step < ring_.size() && out.size() < count; ++step) {
    if (std::find(out.begin(), out.end(), ring_[at].second) == out.end())
      out.push_back(ring_[at].second);
    at = (at + 1) % ring_.size();
  }
}

std::size_t jump_fnv1a_hash::bucket(std::uint64_t key, std::size_t buckets) {
  std::int64_t chosen = -1, next = 0;
  while (next < static_cast<std::int64_t>(buckets)) {
    chosen = next;
    key = key * 2862933555777941757ull + 1;
    next = static_cast<std::int64_t>(
        static_cast<double>(chosen + 1) *
        (static_cast<double>(1ll << 31) / static_cast<double>((key >> 33) + 1)));
  }
  return static_cast<std::size_t>(chosen);
}

jump_fnv1a_hash::jump_fnv1a_hash(const std::vector<carbon_destination>& nodes) {
  require_nodes(nodes);
  for (std::size_t i = 0; i < nodes.size(); ++i) order_.push_back(i);
  std::stable_sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) {
    return jump_order_less(nodes[a], nodes[b]);
  });
}

std::size_t jump_fnv1a_hash::node_for(std::string_view metric) const {
  return order_[bucket(fnv1a_64(metric), order_.size())];
}

void jump_fnv1a_hash::nodes_for(std::string_view metric, std::size_t count,
                                std::vector<std::size_t>& out) const {
  // One array: the buckets left at the front, the chosen ones behind them,
  // the first chosen last. Taking a bucket out moves the last one left into
  // its place, which frees that slot for the one chosen.
  out.assign(order_.begin(), order_.end());
  auto left = out.size();
  auto hash = fnv1a_64(metric);
  for (std::size_t chosen = 0; chosen < count && left > 0; ++chosen) {
    const auto at = bucket(hash, left);
    const auto node = out[at];
    out[at] = out[left - 1];
    out[--left] = node;
    hash ^= hash >> 12;
    hash ^= hash << 25;
    hash ^= hash >> 27;
    hash *= 2685821657736338717ull;
  }
  out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(left));
  std::reverse(out.begin(), out.end());
}

}  // namespace sockpush
