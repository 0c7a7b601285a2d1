// carbon_ch placement against carbon's own hashing code: Debian's
// graphite-carbon ships carbon/hashing.py, and python3 runs it on the same
// names and destinations.
#include <doctest/doctest.h>

#include <cstdio>
#include <sstream>

#include "sockpush/carbon/carbon_hash_ring.hpp"
#include "sockpush/carbon/md5.hpp"
#include "support/process.hpp"

using namespace sockpush;

namespace {

std::string hex(const std::array<std::uint8_t, 16>& digest) {
  std::string out;
  for (auto byte : digest) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", byte);
    out += two;
  }
  return out;
}

std::vector<carbon_destination> destinations(const std::vector<std::string>& texts) {
  std::vector<carbon_destination> out;
  for (const auto& t : texts) {
    auto d = parse_carbon_destination(t);
    REQUIRE_MESSAGE(d, t);
    out.push_back(*d);
  }
  return out;
}

/// Metric names of the shapes sockpush sends and forwards, some tagged, some
/// with UTF-8, of many lengths (MD5 pads differently around 55/64 bytes).
std::vector<std::string> sample_names(std::size_t count) {
  std::vector<std::string> names;
  const char* leaves[] = {"tcp.states.time_wait",       "tcp.states.established",
                          "sockpush.sent_lines",        "ephemeral.destinations.10_0_0_1_2003",
                          "app.requests;env=prod;dc=x", "caf\xc3\xa9.latency_ms"};
  for (std::size_t i = 0; i < count; ++i) {
    std::string name = "host" + std::to_string(i % 997) + "." + leaves[i % 6];
    name += std::string(i % 71, 'x').insert(0, i % 71 ? "." : "") + "." + std::to_string(i);
    names.push_back(std::move(name));
  }
  return names;
}

}  // namespace

TEST_CASE("md5: RFC 1321 test vectors, and the padding boundaries against python's hashlib") {
  CHECK(hex(md5("")) == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(hex(md5("abc")) == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(hex(md5("message digest")) == "f96b697d7cb7938d525a2f31aaf161d0");
  CHECK(hex(md5(
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890")) ==
        "57edf4a22be3c955ac49da2e2107b67a");
  test::temp_dir dir;
  std::string expected;
  for (std::size_t n : {55u, 56u, 63u, 64u, 65u, 119u, 120u, 128u, 1000u}) {
    int rc = 0;
    auto python =
        test::run_capture("/usr/bin/python3 -c \"import hashlib; print(hashlib.md5(b'q' * " +
                              std::to_string(n) + ").hexdigest())\"",
                          &rc);
    REQUIRE(rc == 0);
    CHECK_MESSAGE(hex(md5(std::string(n, 'q'))) + "\n" == python, n << " bytes");
  }
}

TEST_CASE("carbon_ch: every one of 12000 names goes where carbon's ConsistentHashRing puts it") {
  test::temp_dir dir;
  const auto names = sample_names(12000);
  std::string names_text;
  for (const auto& n : names) names_text += n + "\n";
  test::write_file(dir / "names", names_text);
  // carbon's own ring, from the installed graphite-carbon, on the same input.
  test::write_file(dir / "place.py", R"(import sys
sys.path.insert(0, '/usr/lib/python3/dist-packages')
from carbon.hashing import ConsistentHashRing
from carbon.util import parseDestinations
import bisect
class WithoutMoveUp(ConsistentHashRing):
    """The same ring without carbon's rule that a taken position moves up."""
    def add_node(self, key):
        self.nodes.add(key)
        self.nodes_len = len(self.nodes)
        for i in range(self.replica_count):
            bisect.insort(self.ring, (self.compute_ring_position("%s:%d" % (key, i)), key))
        self.ring_len = len(self.ring)
nodes = [(server, instance) for server, port, instance in parseDestinations(sys.argv[2].split(','))]
ring, plain = ConsistentHashRing(nodes), WithoutMoveUp(nodes)
for name in open(sys.argv[1], encoding='utf-8').read().split('\n')[:-1]:
    print(nodes.index(ring.get_node(name)), nodes.index(plain.get_node(name)))
)");
  // Two instances on one host (the usual carbon-cache a/b), hosts without
  // instances, IPv6, and 20 nodes: 2000 replicas, so positions collide and
  // carbon's "taken: move up by one" rule is exercised.
  std::vector<std::vector<std::string>> clusters = {
      {"127.0.0.1:2004:a", "127.0.0.1:2104:b"},
      {"10.0.0.1:2003", "10.0.0.2:2003", "carbon-3.example:2003"},
      {"[::1]:2004:a", "[2001:db8::7]:2004:b", "cache.example:2004"},
      {}};
  for (int i = 0; i < 20; ++i)
    clusters.back().push_back("10.1.0." + std::to_string(i) + ":2004:c" + std::to_string(i));

  for (const auto& cluster : clusters) {
    std::string list;
    for (const auto& d : cluster) list += (list.empty() ? "" : ",") + d;
    int rc = 0;
    auto python = test::run_capture(
        "/usr/bin/python3 " + dir / "place.py" + " " + dir / "names" + " '" + list + "'", &rc);
    REQUIRE_MESSAGE(rc == 0, "carbon's hashing.py did not run");
    const auto carbon_says = test::split_lines(python);
    REQUIRE(carbon_says.size() == names.size());

    carbon_hash_ring ring(destinations(cluster));
    std::size_t agree = 0, moved_up = 0;
    std::vector<std::size_t> per_node(cluster.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
      auto ours = std::to_string(ring.node_for(names[i]));
      const auto carbon = carbon_says[i].substr(0, carbon_says[i].find(' '));
      moved_up += carbon != carbon_says[i].substr(carbon_says[i].find(' ') + 1);
      ++per_node[std::stoul(ours)];
      if (ours == carbon)
        ++agree;
      else if (names.size() - agree < 5)
        MESSAGE(names[i] << ": sockpush " << ours << ", carbon " << carbon);
    }
    std::ostringstream spread;
    for (auto n : per_node) spread << n << " ";
    MESSAGE(cluster.size() << " destinations: " << agree << " of " << names.size()
                           << " names agree; per destination " << spread.str()
                           << "; without carbon's move-up rule " << moved_up
                           << " names would go elsewhere");
    CHECK(agree == names.size());
    // The cluster of 20 has position collisions: the rule decides some names.
    if (cluster.size() == 20) CHECK(moved_up > 0);
    // Each destination gets some names: the ring is not degenerate.
    for (auto n : per_node) CHECK(n > 0);
  }
}

TEST_CASE("carbon destinations: host:port:instance as carbon writes it") {
  auto a = parse_carbon_destination("127.0.0.1:2004:a");
  REQUIRE(a);
  CHECK(a->where.host == "127.0.0.1");
  CHECK(a->where.port == "2004");
  CHECK(a->instance == "a");
  CHECK(a->metric_name() == "127_0_0_1_2004_a");
  auto v6 = parse_carbon_destination("[::1]:2004:b");
  REQUIRE(v6);
  CHECK(v6->where.host == "::1");
  CHECK(v6->instance == "b");
  CHECK(v6->to_string() == "[::1]:2004:b");
  auto bare = parse_carbon_destination("::1");  // an IPv6 literal, not host:port:instance
  REQUIRE(bare);
  CHECK(bare->where.host == "::1");
  CHECK(bare->instance.empty());
  std::string why;
  CHECK_FALSE(parse_carbon_destination("host:2003:", &why));
  CHECK(why.find("instance") != std::string::npos);
  CHECK_FALSE(parse_carbon_destination("ho'st:2003", &why));
  CHECK(why.find("letters") != std::string::npos);
  CHECK_FALSE(parse_carbon_destination("host:99999:a", &why));
}
