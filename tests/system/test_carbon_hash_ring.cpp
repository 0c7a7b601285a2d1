// Placement against the real hashing code: carbon_ch against carbon's own
// carbon/hashing.py (Debian's graphite-carbon, run by python3), fnv1a_ch and
// jump_fnv1a_ch against a running carbon-c-relay in front of line sinks.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "sockpush/carbon/carbon_hash_ring.hpp"
#include "sockpush/carbon/md5.hpp"
#include "sockpush/carbon/metric_placement.hpp"
#include "support/carbon_cache.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;

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
/// Without `utf8`, that leaf is ASCII: carbon-c-relay rewrites every byte
/// outside ASCII to '_' before it hashes a name.
std::vector<std::string> sample_names(std::size_t count, bool utf8 = true) {
  std::vector<std::string> names;
  const char* leaves[] = {"tcp.states.time_wait",
                          "tcp.states.established",
                          "sockpush.sent_lines",
                          "ephemeral.destinations.10_0_0_1_2003",
                          "app.requests;env=prod;dc=x",
                          utf8 ? "caf\xc3\xa9.latency_ms" : "p99+x%@~.latency_ms;unit=ms"};
  for (std::size_t i = 0; i < count; ++i) {
    std::string name = "host" + std::to_string(i % 997) + "." + leaves[i % 6];
    name += std::string(i % 71, 'x').insert(0, i % 71 ? "." : "") + "." + std::to_string(i);
    names.push_back(std::move(name));
  }
  return names;
}

/// Writes `names` to `path`, one a line, each followed by `after`.
void write_names(const std::string& path, const std::vector<std::string>& names,
                 const std::string& after = "") {
  std::string text;
  for (const auto& n : names) text += n + after + "\n";
  test::write_file(path, text);
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
  write_names(dir / "names", names);
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

TEST_CASE(
    "carbon_ch replication: every name's copies go to the members carbon's relay router picks, "
    "in its order, with and without DIVERSE_REPLICAS") {
  test::temp_dir dir;
  const auto names = sample_names(6000);
  write_names(dir / "names", names);
  // A host with two instances, four hosts of one member each
  // (DIVERSE_REPLICAS then changes nothing), and 12 members on 4 hosts.
  std::vector<std::vector<std::string>> clusters = {
      {"127.0.0.1:2004:a", "127.0.0.1:2104:b", "10.0.0.2:2004:a"},
      {"10.0.0.1:2003", "10.0.0.2:2003", "carbon-3.example:2003", "[2001:db8::7]:2004:b"},
      {}};
  for (int i = 0; i < 12; ++i)
    clusters.back().push_back("10.1.0." + std::to_string(i % 4) + ":2004:c" + std::to_string(i));
  for (const auto& cluster : clusters) {
    std::string list;
    for (const auto& d : cluster) list += (list.empty() ? "" : ",") + d;
    const auto members = destinations(cluster);
    const carbon_hash_ring ring(members);
    std::set<std::string> hosts;
    for (const auto& m : members) hosts.insert(m.where.host);
    const bool shared_host = hosts.size() < members.size();
    for (std::size_t replicas : {2U, 3U}) {
      for (bool diverse : {true, false}) {
        const auto carbon_says =
            test::carbon_relay_routes(dir, dir / "names", list, replicas, diverse);
        REQUIRE(carbon_says.size() == names.size());
        std::size_t agree = 0, other_rule_agrees = 0;
        for (std::size_t i = 0; i < names.size(); ++i) {
          auto text = [](const std::vector<std::size_t>& nodes) {
            std::string out;
            for (auto n : nodes) out += (out.empty() ? "" : " ") + std::to_string(n);
            return out;
          };
          std::vector<std::size_t> chosen, by_other_rule;
          ring.nodes_for(names[i], replicas, diverse, chosen);
          ring.nodes_for(names[i], replicas, !diverse, by_other_rule);
          const auto ours = text(chosen);
          other_rule_agrees += text(by_other_rule) == carbon_says[i];
          if (ours == carbon_says[i])
            ++agree;
          else if (names.size() - agree < 5)
            MESSAGE(names[i] << ": sockpush [" << ours << "], carbon [" << carbon_says[i] << "]");
        }
        MESSAGE(cluster.size() << " members, replication " << replicas << ", DIVERSE_REPLICAS "
                               << diverse << ": " << agree << " of " << names.size()
                               << " names on the same members in the same order; the other "
                                  "DIVERSE_REPLICAS rule would agree on "
                               << other_rule_agrees);
        CHECK(agree == names.size());
        // Where a host has several members, picking the replicas by the
        // other rule must show in the comparison.
        if (shared_host) CHECK(other_rule_agrees < names.size());
      }
    }
  }
}

namespace {

/// Where each line landed, from port_sinks.py's output: sink index per name.
std::map<std::string, std::vector<std::size_t>> landings(const std::string& sink_output) {
  std::map<std::string, std::vector<std::size_t>> where;
  for (const auto& line : test::split_lines(sink_output)) {
    const auto space = line.find(' ');
    const auto name = line.substr(space + 1, line.find(' ', space + 1) - space - 1);
    where[name].push_back(std::stoul(line.substr(0, space)));
  }
  return where;
}

/// One relay cluster: its members as written, and its first sink index.
struct relay_cluster {
  std::vector<std::string> members;
  std::size_t first_sink = 0;
};

/// Which members of `cluster` got a name that landed on `sinks`, sorted.
std::vector<std::size_t> members_of(const std::vector<std::size_t>& sinks,
                                    const relay_cluster& cluster) {
  std::vector<std::size_t> members;
  for (auto sink : sinks)
    if (sink >= cluster.first_sink && sink < cluster.first_sink + cluster.members.size())
      members.push_back(sink - cluster.first_sink);
  std::sort(members.begin(), members.end());
  return members;
}

/// The one member of `cluster` that got a name; the member count if none did.
std::size_t member_of(const std::vector<std::size_t>& sinks, const relay_cluster& cluster) {
  const auto members = members_of(sinks, cluster);
  return members.size() == 1 ? members.front() : cluster.members.size();
}

/// 12000 names through a real carbon-c-relay whose clusters of type `ring`
/// (2, 3 and 20 members, without and with instances) each feed their own
/// line sinks; every name must land where sockpush's placement puts it. Then
/// the sockpush daemon itself, in that mode, feeds the 3-member cluster's
/// sinks: the same landings again. With `replication` above 1 the clusters
/// say `replication N` (those with fewer members are left out) and each
/// name's set of members must be the one sockpush picks; a pick that takes
/// the members after the first in configuration order must not pass.
void check_against_relay(const std::string& ring, destination_mode mode,
                         const std::vector<std::string>& instances_of_20,
                         std::size_t replication = 1) {
  test::temp_dir dir;
  const auto names = sample_names(12000, false);
  write_names(dir / "names", names, " 1 1700000000");

  std::vector<relay_cluster> clusters;
  std::size_t sinks = 0;
  for (bool named : {false, true})
    for (std::size_t size : {2u, 3u, 20u}) {
      if (size < replication) continue;
      clusters.push_back({std::vector<std::string>(size), sinks});
      sinks += size;
      for (std::size_t i = 0; named && i < size; ++i)
        clusters.back().members[i] = "=" + instances_of_20[i];
    }
  test::child sink({"/usr/bin/python3",
                    std::string(SOCKPUSH_SOURCE_DIR) + "/tests/system/support/port_sinks.py",
                    std::to_string(sinks), dir / "landed", dir / "ports", "120"});
  REQUIRE(test::wait_until([&] { return std::filesystem::exists(dir / "ports"); }, 10000ms));
  std::istringstream ports(test::read_file(dir / "ports"));
  std::string relay_conf;
  for (std::size_t c = 0; c < clusters.size(); ++c) {
    relay_conf += "cluster c" + std::to_string(c) + " " + ring +
                  (replication > 1 ? " replication " + std::to_string(replication) : "") + "\n";
    for (auto& member : clusters[c].members) {
      unsigned port = 0;
      ports >> port;
      member = "127.0.0.1:" + std::to_string(port) + member;
      relay_conf += "    " + member + "\n";
    }
    relay_conf += "    ;\nmatch * send to c" + std::to_string(c) + ";\n";
  }
  const auto relay_port = test::unused_port();
  relay_conf += "listen type linemode 127.0.0.1:" + std::to_string(relay_port) + " proto tcp;\n";
  test::write_file(dir / "relay.conf", relay_conf);

  // The relay cleanses names; these characters it must let through as sent.
  test::child relay({"/usr/bin/carbon-c-relay", "-f", dir / "relay.conf", "-s", "-w", "1", "-c",
                     "-_:#;=+%@~", "-l", dir / "relay.log"});
  REQUIRE(test::wait_until(
      [&] {
        return test::run_capture("ss -Hltn 'sport = :" + std::to_string(relay_port) + "'").size() >
               0;
      },
      10000ms));
  int rc = 0;
  test::run_capture(std::string(SOCKPUSH_BINARY) + " send 127.0.0.1 " + std::to_string(relay_port) +
                        " < " + dir / "names",
                    &rc);
  REQUIRE(rc == 0);
  const auto expected = names.size() * clusters.size() * replication;
  const bool all_arrived = test::wait_until(
      [&] { return test::split_lines(test::read_file(dir / "landed")).size() >= expected; },
      30000ms);
  relay.signal(SIGTERM);
  relay.wait(5000ms);
  REQUIRE_MESSAGE(all_arrived, test::read_file(dir / "relay.log"));
  const auto relay_put = landings(test::read_file(dir / "landed"));

  if (replication > 1) {
    for (const auto& cluster : clusters) {
      const auto members = destinations(cluster.members);
      const fnv1a_hash_ring fnv1a(members);
      const jump_fnv1a_hash jump(members);
      std::size_t agree = 0, next_in_order_agrees = 0, shown = 0;
      for (const auto& name : names) {
        const auto relay_members = members_of(relay_put.at(name), cluster);
        std::vector<std::size_t> ours;
        if (mode == destination_mode::fnv1a_ch)
          fnv1a.nodes_for(name, replication, ours);
        else
          jump.nodes_for(name, replication, ours);
        // The first pick is the replication-1 member; the rule after it is what is checked.
        std::vector<std::size_t> next_in_order;
        for (std::size_t i = 0; i < replication; ++i)
          next_in_order.push_back((ours.front() + i) % members.size());
        std::sort(ours.begin(), ours.end());
        std::sort(next_in_order.begin(), next_in_order.end());
        next_in_order_agrees += next_in_order == relay_members;
        if (ours == relay_members)
          ++agree;
        else if (shown++ < 3)
          MESSAGE(name << ": sockpush and carbon-c-relay differ");
      }
      MESSAGE(ring << " replication " << replication << ", " << cluster.members.size()
                   << " members, e.g. " << cluster.members.back() << ": " << agree << " of "
                   << names.size()
                   << " names on the members carbon-c-relay chose; the next members in "
                      "configuration order would match "
                   << next_in_order_agrees);
      CHECK(agree == names.size());
      // With every member holding a copy there is no choice to get wrong.
      if (replication < members.size()) CHECK(next_in_order_agrees < names.size());
    }
    return;
  }

  for (const auto& cluster : clusters) {
    metric_placement placement(mode, destinations(cluster.members));
    std::size_t agree = 0, shown = 0;
    std::vector<std::size_t> per_member(cluster.members.size());
    for (const auto& name : names) {
      const auto relay_member = member_of(relay_put.at(name), cluster);
      const auto ours = placement.node_for(name);
      if (ours == relay_member) {
        ++agree;
        ++per_member[ours];
      } else if (shown++ < 3) {
        MESSAGE(name << ": sockpush " << ours << ", carbon-c-relay " << relay_member);
      }
    }
    std::ostringstream spread;
    for (auto n : per_member) spread << n << " ";
    MESSAGE(ring << ", " << cluster.members.size() << " members, e.g. " << cluster.members.back()
                 << ": " << agree << " of " << names.size()
                 << " names where carbon-c-relay put them; per member " << spread.str());
    CHECK(agree == names.size());
    for (auto n : per_member) CHECK(n > 0);
  }

  // The daemon, in this mode, in front of the named 3-member cluster's sinks.
  const auto& three = clusters[4];
  REQUIRE(three.members.size() == 3);
  const auto listen_port = test::unused_port();
  std::string toml = "[carbon]\nmode = \"" + ring + "\"\ndestinations = [";
  for (const auto& m : three.members) toml += "\"" + m + "\", ";
  toml += "]\n[[listen]]\naddress = \"tcp://127.0.0.1:" + std::to_string(listen_port) + "\"\n";
  test::write_file(dir / "sockpush.toml", toml);
  const auto before = test::split_lines(test::read_file(dir / "landed")).size();
  test::child daemon(test::daemon_command({.config = dir / "sockpush.toml", .interval = "60"}), {},
                     dir / "daemon.log");
  REQUIRE(test::wait_until(
      [&] {
        return test::run_capture("ss -Hltn 'sport = :" + std::to_string(listen_port) + "'").size() >
               0;
      },
      10000ms));
  test::run_capture(std::string(SOCKPUSH_BINARY) + " send 127.0.0.1 " +
                        std::to_string(listen_port) + " < " + dir / "names",
                    &rc);
  REQUIRE(rc == 0);
  std::map<std::string, std::vector<std::size_t>> daemon_put;
  test::wait_until(
      [&] {
        const auto all = test::split_lines(test::read_file(dir / "landed"));
        std::string after;
        for (std::size_t i = before; i < all.size(); ++i) after += all[i] + "\n";
        daemon_put = landings(after);
        return std::all_of(names.begin(), names.end(),
                           [&](const auto& n) { return daemon_put.count(n) > 0; });
      },
      30000ms);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(10000ms) == 0);
  std::size_t same = 0;
  for (const auto& name : names) {
    auto it = daemon_put.find(name);
    same += it != daemon_put.end() && it->second.size() == 1 &&
            member_of(it->second, three) == member_of(relay_put.at(name), three);
  }
  MESSAGE("sockpush daemon, " << ring << ": " << same << " of " << names.size()
                              << " names on the member carbon-c-relay chose");
  CHECK(same == names.size());
}

}  // namespace

TEST_CASE("fnv1a_ch: every one of 12000 names lands where carbon-c-relay puts it") {
  std::vector<std::string> instances;
  for (int i = 0; i < 20; ++i) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(fnv1a_64("member-" + std::to_string(i))));
    instances.push_back(hex);
  }
  check_against_relay("fnv1a_ch", destination_mode::fnv1a_ch, instances);
}

TEST_CASE(
    "fnv1a_ch replication 2 and 3: each name's copies land on the members carbon-c-relay "
    "picks") {
  std::vector<std::string> instances;
  for (int i = 0; i < 20; ++i) instances.push_back("m" + std::to_string(i));
  for (std::size_t replication : {2U, 3U})
    check_against_relay("fnv1a_ch", destination_mode::fnv1a_ch, instances, replication);
}

TEST_CASE("jump_fnv1a_ch: every one of 12000 names lands where carbon-c-relay puts it") {
  // Numbers out of order (37, 30, 23, ..., 9, 2, 32, ...): the relay sorts
  // members by instance, as numbers.
  std::vector<std::string> instances;
  for (int i = 0; i < 20; ++i) instances.push_back(std::to_string(37 - i * 7 % 37));
  check_against_relay("jump_fnv1a_ch", destination_mode::jump_fnv1a_ch, instances);
}

TEST_CASE(
    "jump_fnv1a_ch replication 2 and 3: each name's copies land on the members "
    "carbon-c-relay picks") {
  std::vector<std::string> instances;
  for (int i = 0; i < 20; ++i) instances.push_back(std::to_string(37 - i * 7 % 37));
  for (std::size_t replication : {2U, 3U})
    check_against_relay("jump_fnv1a_ch", destination_mode::jump_fnv1a_ch, instances, replication);
}
