// Which members get the copies of a metric with replication, from tables
// the real relays produced: carbon-c-relay 3.7.3's test mode (`carbon-c-relay
// -t` with `cluster c <type> replication N`) for fnv1a_ch and jump_fnv1a_ch,
// and carbon 1.1's ConsistentHashingRouter (get_nodes, DIVERSE_REPLICAS on
// and off) for carbon_ch. The system test test_carbon_hash_ring.cpp checks
// thousands of names against the running relays; these keep the rule in the
// fast suite.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "sockpush/carbon/carbon_config.hpp"
#include "sockpush/carbon/metric_placement.hpp"

using namespace sockpush;

namespace {

std::vector<carbon_destination> cluster(destination_mode mode,
                                        const std::vector<std::string>& texts) {
  return parse_destinations(texts, mode, "members");
}

// carbon-c-relay members (host:port=instance), and carbon DESTINATIONS
// (host:port:instance): two instances on one host in each.
const std::vector<std::string> four = {"127.0.0.1:2101", "127.0.0.1:2102", "127.0.0.1:2103",
                                       "127.0.0.1:2104"};
const std::vector<std::string> instances = {"10.0.0.1:2003=a", "10.0.0.1:2103=b", "10.0.0.2:2003=c",
                                            "10.0.0.3:2003=d", "10.0.0.4:2003=e"};
const std::vector<std::string> three = {"127.0.0.1:2004:a", "127.0.0.1:2104:b", "127.0.0.2:2004:c"};
const std::vector<std::string> four_hosts = {"10.0.0.1:2004:a", "10.0.0.2:2004:b",
                                             "10.0.0.3:2004:c", "10.0.0.4:2004:d"};

struct row {
  destination_mode mode;
  const std::vector<std::string>& members;
  std::size_t copies;
  bool diverse;
  const char* metric;
  std::vector<std::size_t> relay_chose;  ///< member indexes, in the relay's order
};

const std::vector<row>& relay_table() {
  static const std::vector<row> rows = {
      {destination_mode::fnv1a_ch, four, 2, true, "sockpush.router.tcp.states.time_wait", {2, 1}},
      {destination_mode::fnv1a_ch, four, 2, true, "sockpush.router.tcp.ephemeral.used", {2, 3}},
      {destination_mode::fnv1a_ch, four, 2, true, "web01.nginx.requests", {1, 3}},
      {destination_mode::fnv1a_ch, four, 2, true, "db.pg.connections.active", {1, 0}},
      {destination_mode::fnv1a_ch, four, 2, true, "a", {0, 1}},
      {destination_mode::fnv1a_ch, four, 2, true, "servers.eu-west.cpu.idle", {1, 3}},
      {destination_mode::fnv1a_ch, four, 2, true, "collectd.host_1.load.shortterm", {0, 3}},
      {destination_mode::fnv1a_ch, four, 2, true, "sockpush.vps.conntrack.fill_percent", {3, 1}},
      {destination_mode::fnv1a_ch,
       four,
       3,
       true,
       "sockpush.router.tcp.states.time_wait",
       {2, 1, 3}},
      {destination_mode::fnv1a_ch, four, 3, true, "sockpush.router.tcp.ephemeral.used", {2, 3, 1}},
      {destination_mode::fnv1a_ch, four, 3, true, "web01.nginx.requests", {1, 3, 0}},
      {destination_mode::fnv1a_ch, four, 3, true, "db.pg.connections.active", {1, 0, 2}},
      {destination_mode::fnv1a_ch, four, 3, true, "a", {0, 1, 3}},
      {destination_mode::fnv1a_ch, four, 3, true, "servers.eu-west.cpu.idle", {1, 3, 2}},
      {destination_mode::fnv1a_ch, four, 3, true, "collectd.host_1.load.shortterm", {0, 3, 2}},
      {destination_mode::fnv1a_ch, four, 3, true, "sockpush.vps.conntrack.fill_percent", {3, 1, 2}},
      {destination_mode::fnv1a_ch,
       instances,
       2,
       true,
       "sockpush.router.tcp.states.time_wait",
       {2, 0}},
      {destination_mode::fnv1a_ch,
       instances,
       2,
       true,
       "sockpush.router.tcp.ephemeral.used",
       {0, 3}},
      {destination_mode::fnv1a_ch, instances, 2, true, "web01.nginx.requests", {4, 1}},
      {destination_mode::fnv1a_ch, instances, 2, true, "db.pg.connections.active", {0, 3}},
      {destination_mode::fnv1a_ch, instances, 2, true, "a", {0, 3}},
      {destination_mode::fnv1a_ch, instances, 2, true, "servers.eu-west.cpu.idle", {3, 0}},
      {destination_mode::fnv1a_ch, instances, 2, true, "collectd.host_1.load.shortterm", {2, 0}},
      {destination_mode::fnv1a_ch,
       instances,
       2,
       true,
       "sockpush.vps.conntrack.fill_percent",
       {3, 4}},
      {destination_mode::fnv1a_ch,
       instances,
       3,
       true,
       "sockpush.router.tcp.states.time_wait",
       {2, 0, 4}},
      {destination_mode::fnv1a_ch,
       instances,
       3,
       true,
       "sockpush.router.tcp.ephemeral.used",
       {0, 3, 4}},
      {destination_mode::fnv1a_ch, instances, 3, true, "web01.nginx.requests", {4, 1, 0}},
      {destination_mode::fnv1a_ch, instances, 3, true, "db.pg.connections.active", {0, 3, 4}},
      {destination_mode::fnv1a_ch, instances, 3, true, "a", {0, 3, 2}},
      {destination_mode::fnv1a_ch, instances, 3, true, "servers.eu-west.cpu.idle", {3, 0, 1}},
      {destination_mode::fnv1a_ch, instances, 3, true, "collectd.host_1.load.shortterm", {2, 0, 1}},
      {destination_mode::fnv1a_ch,
       instances,
       3,
       true,
       "sockpush.vps.conntrack.fill_percent",
       {3, 4, 2}},
      {destination_mode::jump_fnv1a_ch,
       four,
       2,
       true,
       "sockpush.router.tcp.states.time_wait",
       {3, 0}},
      {destination_mode::jump_fnv1a_ch,
       four,
       2,
       true,
       "sockpush.router.tcp.ephemeral.used",
       {0, 3}},
      {destination_mode::jump_fnv1a_ch, four, 2, true, "web01.nginx.requests", {3, 1}},
      {destination_mode::jump_fnv1a_ch, four, 2, true, "db.pg.connections.active", {0, 2}},
      {destination_mode::jump_fnv1a_ch, four, 2, true, "a", {2, 3}},
      {destination_mode::jump_fnv1a_ch, four, 2, true, "servers.eu-west.cpu.idle", {1, 3}},
      {destination_mode::jump_fnv1a_ch, four, 2, true, "collectd.host_1.load.shortterm", {1, 0}},
      {destination_mode::jump_fnv1a_ch,
       four,
       2,
       true,
       "sockpush.vps.conntrack.fill_percent",
       {3, 1}},
      {destination_mode::jump_fnv1a_ch,
       four,
       3,
       true,
       "sockpush.router.tcp.states.time_wait",
       {3, 0, 1}},
      {destination_mode::jump_fnv1a_ch,
       four,
       3,
       true,
       "sockpush.router.tcp.ephemeral.used",
       {0, 3, 1}},
      {destination_mode::jump_fnv1a_ch, four, 3, true, "web01.nginx.requests", {3, 1, 0}},
      {destination_mode::jump_fnv1a_ch, four, 3, true, "db.pg.connections.active", {0, 2, 1}},
      {destination_mode::jump_fnv1a_ch, four, 3, true, "a", {2, 3, 1}},
      {destination_mode::jump_fnv1a_ch, four, 3, true, "servers.eu-west.cpu.idle", {1, 3, 2}},
      {destination_mode::jump_fnv1a_ch, four, 3, true, "collectd.host_1.load.shortterm", {1, 0, 2}},
      {destination_mode::jump_fnv1a_ch,
       four,
       3,
       true,
       "sockpush.vps.conntrack.fill_percent",
       {3, 1, 0}},
      {destination_mode::jump_fnv1a_ch,
       instances,
       2,
       true,
       "sockpush.router.tcp.states.time_wait",
       {3, 4}},
      {destination_mode::jump_fnv1a_ch,
       instances,
       2,
       true,
       "sockpush.router.tcp.ephemeral.used",
       {0, 4}},
      {destination_mode::jump_fnv1a_ch, instances, 2, true, "web01.nginx.requests", {3, 1}},
      {destination_mode::jump_fnv1a_ch, instances, 2, true, "db.pg.connections.active", {4, 2}},
      {destination_mode::jump_fnv1a_ch, instances, 2, true, "a", {2, 3}},
      {destination_mode::jump_fnv1a_ch, instances, 2, true, "servers.eu-west.cpu.idle", {1, 4}},
      {destination_mode::jump_fnv1a_ch,
       instances,
       2,
       true,
       "collectd.host_1.load.shortterm",
       {1, 0}},
      {destination_mode::jump_fnv1a_ch,
       instances,
       2,
       true,
       "sockpush.vps.conntrack.fill_percent",
       {4, 1}},
      {destination_mode::jump_fnv1a_ch,
       instances,
       3,
       true,
       "sockpush.router.tcp.states.time_wait",
       {3, 4, 1}},
      {destination_mode::jump_fnv1a_ch,
       instances,
       3,
       true,
       "sockpush.router.tcp.ephemeral.used",
       {0, 4, 1}},
      {destination_mode::jump_fnv1a_ch, instances, 3, true, "web01.nginx.requests", {3, 1, 2}},
      {destination_mode::jump_fnv1a_ch, instances, 3, true, "db.pg.connections.active", {4, 2, 1}},
      {destination_mode::jump_fnv1a_ch, instances, 3, true, "a", {2, 3, 4}},
      {destination_mode::jump_fnv1a_ch, instances, 3, true, "servers.eu-west.cpu.idle", {1, 4, 2}},
      {destination_mode::jump_fnv1a_ch,
       instances,
       3,
       true,
       "collectd.host_1.load.shortterm",
       {1, 0, 2}},
      {destination_mode::jump_fnv1a_ch,
       instances,
       3,
       true,
       "sockpush.vps.conntrack.fill_percent",
       {4, 1, 0}},
      {destination_mode::carbon_ch, three, 2, true, "sockpush.router.tcp.states.time_wait", {1, 2}},
      {destination_mode::carbon_ch, three, 2, true, "sockpush.router.tcp.ephemeral.used", {2, 0}},
      {destination_mode::carbon_ch, three, 2, true, "web01.nginx.requests", {0, 2}},
      {destination_mode::carbon_ch, three, 2, true, "db.pg.connections.active", {1, 2}},
      {destination_mode::carbon_ch, three, 2, true, "a", {0, 2}},
      {destination_mode::carbon_ch, three, 2, true, "servers.eu-west.cpu.idle", {2, 0}},
      {destination_mode::carbon_ch, three, 2, true, "collectd.host_1.load.shortterm", {2, 1}},
      {destination_mode::carbon_ch, three, 2, true, "sockpush.vps.conntrack.fill_percent", {0, 2}},
      {destination_mode::carbon_ch,
       three,
       2,
       false,
       "sockpush.router.tcp.states.time_wait",
       {1, 0}},
      {destination_mode::carbon_ch, three, 2, false, "sockpush.router.tcp.ephemeral.used", {2, 0}},
      {destination_mode::carbon_ch, three, 2, false, "web01.nginx.requests", {0, 1}},
      {destination_mode::carbon_ch, three, 2, false, "db.pg.connections.active", {1, 0}},
      {destination_mode::carbon_ch, three, 2, false, "a", {0, 1}},
      {destination_mode::carbon_ch, three, 2, false, "servers.eu-west.cpu.idle", {2, 0}},
      {destination_mode::carbon_ch, three, 2, false, "collectd.host_1.load.shortterm", {2, 1}},
      {destination_mode::carbon_ch, three, 2, false, "sockpush.vps.conntrack.fill_percent", {0, 1}},
      {destination_mode::carbon_ch, three, 3, true, "sockpush.router.tcp.states.time_wait", {1, 2}},
      {destination_mode::carbon_ch, three, 3, true, "sockpush.router.tcp.ephemeral.used", {2, 0}},
      {destination_mode::carbon_ch, three, 3, true, "web01.nginx.requests", {0, 2}},
      {destination_mode::carbon_ch, three, 3, true, "db.pg.connections.active", {1, 2}},
      {destination_mode::carbon_ch, three, 3, true, "a", {0, 2}},
      {destination_mode::carbon_ch, three, 3, true, "servers.eu-west.cpu.idle", {2, 0}},
      {destination_mode::carbon_ch, three, 3, true, "collectd.host_1.load.shortterm", {2, 1}},
      {destination_mode::carbon_ch, three, 3, true, "sockpush.vps.conntrack.fill_percent", {0, 2}},
      {destination_mode::carbon_ch,
       three,
       3,
       false,
       "sockpush.router.tcp.states.time_wait",
       {1, 0, 2}},
      {destination_mode::carbon_ch,
       three,
       3,
       false,
       "sockpush.router.tcp.ephemeral.used",
       {2, 0, 1}},
      {destination_mode::carbon_ch, three, 3, false, "web01.nginx.requests", {0, 1, 2}},
      {destination_mode::carbon_ch, three, 3, false, "db.pg.connections.active", {1, 0, 2}},
      {destination_mode::carbon_ch, three, 3, false, "a", {0, 1, 2}},
      {destination_mode::carbon_ch, three, 3, false, "servers.eu-west.cpu.idle", {2, 0, 1}},
      {destination_mode::carbon_ch, three, 3, false, "collectd.host_1.load.shortterm", {2, 1, 0}},
      {destination_mode::carbon_ch,
       three,
       3,
       false,
       "sockpush.vps.conntrack.fill_percent",
       {0, 1, 2}},
      {destination_mode::carbon_ch,
       four_hosts,
       2,
       true,
       "sockpush.router.tcp.states.time_wait",
       {3, 2}},
      {destination_mode::carbon_ch,
       four_hosts,
       2,
       true,
       "sockpush.router.tcp.ephemeral.used",
       {3, 2}},
      {destination_mode::carbon_ch, four_hosts, 2, true, "web01.nginx.requests", {1, 3}},
      {destination_mode::carbon_ch, four_hosts, 2, true, "db.pg.connections.active", {2, 1}},
      {destination_mode::carbon_ch, four_hosts, 2, true, "a", {2, 0}},
      {destination_mode::carbon_ch, four_hosts, 2, true, "servers.eu-west.cpu.idle", {2, 1}},
      {destination_mode::carbon_ch, four_hosts, 2, true, "collectd.host_1.load.shortterm", {3, 2}},
      {destination_mode::carbon_ch,
       four_hosts,
       2,
       true,
       "sockpush.vps.conntrack.fill_percent",
       {0, 3}},
      {destination_mode::carbon_ch,
       four_hosts,
       3,
       true,
       "sockpush.router.tcp.states.time_wait",
       {3, 2, 0}},
      {destination_mode::carbon_ch,
       four_hosts,
       3,
       true,
       "sockpush.router.tcp.ephemeral.used",
       {3, 2, 0}},
      {destination_mode::carbon_ch, four_hosts, 3, true, "web01.nginx.requests", {1, 3, 0}},
      {destination_mode::carbon_ch, four_hosts, 3, true, "db.pg.connections.active", {2, 1, 0}},
      {destination_mode::carbon_ch, four_hosts, 3, true, "a", {2, 0, 1}},
      {destination_mode::carbon_ch, four_hosts, 3, true, "servers.eu-west.cpu.idle", {2, 1, 3}},
      {destination_mode::carbon_ch,
       four_hosts,
       3,
       true,
       "collectd.host_1.load.shortterm",
       {3, 2, 1}},
      {destination_mode::carbon_ch,
       four_hosts,
       3,
       true,
       "sockpush.vps.conntrack.fill_percent",
       {0, 3, 1}},
  };
  return rows;
}

}  // namespace

TEST_CASE("replicas: each copy on the member the relay chose, in its order") {
  for (const auto& r : relay_table()) {
    CAPTURE(r.metric);
    CAPTURE(static_cast<int>(r.mode));
    CAPTURE(r.copies);
    CAPTURE(r.diverse);
    const metric_placement placement(r.mode, cluster(r.mode, r.members), r.copies, r.diverse);
    const auto chosen = placement.nodes_for(r.metric);
    CHECK(chosen == r.relay_chose);
    CHECK(placement.node_for(r.metric) == r.relay_chose.front());
  }
}

TEST_CASE("replicas: distinct members, as many as asked, for any name") {
  for (auto mode :
       {destination_mode::carbon_ch, destination_mode::fnv1a_ch, destination_mode::jump_fnv1a_ch}) {
    const auto nodes = cluster(mode, mode == destination_mode::carbon_ch ? four_hosts : instances);
    for (std::size_t copies = 1; copies <= nodes.size(); ++copies) {
      const metric_placement placement(mode, nodes, copies);
      for (int i = 0; i < 500; ++i) {
        const auto name = "m" + std::to_string(i) + ".x";
        const auto chosen = placement.nodes_for(name);
        CAPTURE(name);
        REQUIRE(chosen.size() == copies);
        CHECK(std::set<std::size_t>(chosen.begin(), chosen.end()).size() == copies);
        CHECK(chosen.front() == placement.node_for(name));
      }
    }
  }
}

TEST_CASE("replicas: carbon_ch with diverse_replicas sends one copy per host") {
  // three: two instances on 127.0.0.1, one on 127.0.0.2.
  const auto nodes = cluster(destination_mode::carbon_ch, three);
  const metric_placement diverse(destination_mode::carbon_ch, nodes, 3, true);
  const metric_placement not_diverse(destination_mode::carbon_ch, nodes, 3, false);
  for (int i = 0; i < 300; ++i) {
    const auto name = "n" + std::to_string(i);
    const auto chosen = diverse.nodes_for(name);
    CHECK(chosen.size() == 2);
    CHECK(std::count(chosen.begin(), chosen.end(), 2U) == 1);  // the lone host always has one
    CHECK(not_diverse.nodes_for(name).size() == 3);
  }
}

TEST_CASE("replicas: place_lines gives each line to every member of its metric, once") {
  const auto nodes = cluster(destination_mode::fnv1a_ch, instances);
  for (std::size_t copies : {1U, 2U, 3U}) {
    const metric_placement placement(destination_mode::fnv1a_ch, nodes, copies);
    std::string batch;
    for (int i = 0; i < 200; ++i)
      batch += "m" + std::to_string(i) + ".x " + std::to_string(i) + " 100\n";
    placed_lines placed(nodes.size());
    place_lines(placement, batch, placed);
    std::size_t total = 0;
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      CHECK(placed.counts[n] == static_cast<std::size_t>(std::count(placed.lines[n].begin(),
                                                                    placed.lines[n].end(), '\n')));
      total += placed.counts[n];
    }
    CHECK(total == 200 * copies);
    for (int i = 0; i < 200; ++i) {
      const auto name = "m" + std::to_string(i) + ".x";
      const auto line = name + " " + std::to_string(i) + " 100\n";
      const auto members = placement.nodes_for(name);
      for (std::size_t n = 0; n < nodes.size(); ++n) {
        const bool here = placed.lines[n].find(line) != std::string::npos;
        CHECK_MESSAGE(here == (std::find(members.begin(), members.end(), n) != members.end()),
                      line << " on member " << n);
      }
    }
  }
}

TEST_CASE("replicas: place_lines takes a last line without its newline whole") {
  const auto nodes = cluster(destination_mode::jump_fnv1a_ch, four);
  const metric_placement placement(destination_mode::jump_fnv1a_ch, nodes, 2);
  placed_lines placed(nodes.size());
  place_lines(placement, "a 1 1\nb 2 2", placed);
  std::size_t total = 0;
  for (auto c : placed.counts) total += c;
  CHECK(total == 4);
}

TEST_CASE("replicas: a placement asked for no copy or more copies than members is refused") {
  const auto nodes = cluster(destination_mode::fnv1a_ch, four);
  CHECK_THROWS(metric_placement(destination_mode::fnv1a_ch, nodes, 0));
  CHECK_THROWS(metric_placement(destination_mode::fnv1a_ch, nodes, 5));
  CHECK_NOTHROW(metric_placement(destination_mode::fnv1a_ch, nodes, 4));
}
