// carbon-c-relay's placements, by their definitions. Agreement with the
// relay itself, name by name, is the system test test_carbon_hash_ring.cpp.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "sockpush/carbon/carbon_config.hpp"
#include "sockpush/carbon/metric_placement.hpp"
#include "sockpush/carbon/relay_hash_rings.hpp"

using namespace sockpush;

namespace {

std::vector<carbon_destination> members(const std::vector<std::string>& texts) {
  return parse_destinations(texts, destination_mode::fnv1a_ch, "members");
}

std::vector<std::string> names(std::size_t count) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i)
    out.push_back("host" + std::to_string(i % 97) + ".tcp.states.m" + std::to_string(i));
  return out;
}

}  // namespace

TEST_CASE("fnv1a: the published FNV-1a test vectors, 32 and 64 bit") {
  struct row {
    const char* text;
    std::uint32_t h32;
    std::uint64_t h64;
  };
  for (auto [text, h32, h64] :
       {row{"", 0x811c9dc5u, 0xcbf29ce484222325ull}, row{"a", 0xe40c292cu, 0xaf63dc4c8601ec8cull},
        row{"foobar", 0xbf9cf968u, 0x85944171f73967e8ull}}) {
    CAPTURE(text);
    CHECK(fnv1a_32(text) == h32);
    CHECK(fnv1a_64(text) == h64);
  }
}

TEST_CASE("jump hash: known buckets, in range, and growing moves only to the new bucket") {
  CHECK(jump_fnv1a_hash::bucket(256, 1024) == 520);
  CHECK(jump_fnv1a_hash::bucket(0, 1) == 0);
  std::size_t moved = 0;
  for (std::uint64_t key = 0; key < 20000; ++key) {
    const auto before = jump_fnv1a_hash::bucket(key * 0x9E3779B97F4A7C15ull, 9);
    const auto after = jump_fnv1a_hash::bucket(key * 0x9E3779B97F4A7C15ull, 10);
    REQUIRE(before < 9);
    if (after != before) {
      CHECK(after == 9);
      ++moved;
    }
  }
  // About a tenth of the keys move to the tenth bucket.
  CHECK(moved > 1600);
  CHECK(moved < 2400);
}

TEST_CASE("fnv1a_ch: every member gets names; an instance replaces host:port in the key") {
  const auto by_address = members({"10.0.0.1:2003", "10.0.0.2:2003", "10.0.0.2:2103"});
  fnv1a_hash_ring ring(by_address);
  std::map<std::size_t, int> per_member;
  for (const auto& n : names(3000)) ++per_member[ring.node_for(n)];
  CHECK(per_member.size() == 3);
  for (auto [member, count] : per_member) CHECK(count > 600);

  // The same instances at other addresses place every name the same way.
  fnv1a_hash_ring here(members({"10.0.0.1:2003=a1b2c3", "10.0.0.2:2003=d4e5f6"}));
  fnv1a_hash_ring moved(members({"192.0.2.9:2103=a1b2c3", "192.0.2.7:2003=d4e5f6"}));
  for (const auto& n : names(2000)) CHECK(here.node_for(n) == moved.node_for(n));
}

TEST_CASE("jump_fnv1a_ch: members with an instance first, by instance, numbers as numbers") {
  // Listed out of order: the relay orders 2 before 10, then the unnamed one.
  const auto listed = members({"10.0.0.3:2003", "10.0.0.1:2003=10", "10.0.0.2:2003=2"});
  const auto ordered = members({"10.0.0.2:2003=2", "10.0.0.1:2003=10", "10.0.0.3:2003"});
  jump_fnv1a_hash from_listed(listed), from_ordered(ordered);
  const std::size_t same_member[] = {2, 1, 0};  // listed index -> ordered index
  std::set<std::size_t> used;
  for (const auto& n : names(3000)) {
    const auto bucket = jump_fnv1a_hash::bucket(fnv1a_64(n), 3);
    CHECK(from_ordered.node_for(n) == bucket);
    CHECK(same_member[from_listed.node_for(n)] == bucket);
    used.insert(bucket);
  }
  CHECK(used.size() == 3);
}

TEST_CASE("metric_placement: carbon.mode picks the ring") {
  const auto cluster = members({"10.0.0.1:2003=a", "10.0.0.2:2003=b", "10.0.0.3:2003=c"});
  metric_placement carbon(destination_mode::carbon_ch, cluster);
  metric_placement fnv(destination_mode::fnv1a_ch, cluster);
  metric_placement jump(destination_mode::jump_fnv1a_ch, cluster);
  carbon_hash_ring carbon_ring(cluster);
  fnv1a_hash_ring fnv_ring(cluster);
  jump_fnv1a_hash jump_ring(cluster);
  std::size_t differ = 0;
  for (const auto& n : names(500)) {
    CHECK(carbon.node_for(n) == carbon_ring.node_for(n));
    CHECK(fnv.node_for(n) == fnv_ring.node_for(n));
    CHECK(jump.node_for(n) == jump_ring.node_for(n));
    differ += carbon.node_for(n) != fnv.node_for(n);
  }
  CHECK(differ > 100);
  CHECK_THROWS(metric_placement(destination_mode::failover, cluster));
}
