// Several carbon destinations with real carbon-caches: failover and
// fail-back, carbon_ch placement checked by carbon's own hashing code, and
// make-before-break moves (reconnect_interval) against a line sink.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <set>

#include "support/carbon_cache.hpp"
#include "support/daemon_run.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;
using test::carbon_cache;

namespace {

/// Seconds in [from, to] with a point in neither `a` nor `b`.
std::vector<long long> gaps(const std::map<long long, double>& a,
                            const std::map<long long, double>& b, long long from, long long to) {
  std::vector<long long> missing;
  for (long long ts = from; ts <= to; ++ts)
    if (!a.count(ts) && !b.count(ts)) missing.push_back(ts);
  return missing;
}

std::string join(const std::vector<long long>& v) {
  std::string out;
  for (auto x : v) out += " " + std::to_string(x);
  return out;
}

/// A carbon_ch run at 1 s rounds over `caches` (instances a, b, c, ... in
/// that order), one of them SIGKILLed for a while.
struct cache_outage {
  std::string destinations;  ///< as carbon's DESTINATIONS: "host:port:a,..."
  long long start = 0, down = 0, up = 0, stopped = 0, end = 0;
  test::run_rounds rounds;
};

/// Starts the daemon with `carbon_extra` in [carbon]; after `before` kills
/// `victim` for `down`, runs `after` more, stops it; then reads the round
/// count back from every cache and checks every round is accounted for.
cache_outage run_with_a_cache_killed(test::daemon_run& run,
                                     const std::vector<carbon_cache*>& caches, carbon_cache& victim,
                                     const std::string& carbon_extra, const std::string& prefix,
                                     std::chrono::milliseconds before,
                                     std::chrono::milliseconds down,
                                     std::chrono::milliseconds after) {
  const auto& dir = run.dir;
  cache_outage out;
  std::string listed;
  for (std::size_t i = 0; i < caches.size(); ++i) {
    const auto member = caches[i]->address() + ":" + static_cast<char>('a' + i);
    out.destinations += (i ? "," : "") + member;
    listed += (i ? ", \"" : "\"") + member + "\"";
  }
  test::write_file(
      dir / "sockpush.toml",
      "[carbon]\nmode = \"carbon_ch\"\ndestinations = [" + listed + "]\n" + carbon_extra +
          "replay_seconds = 5\nreconnect_min = 0.2\nreconnect_max = 1\n" + test::fixed_size_rounds);
  out.start = time(nullptr);
  run.start({.config = dir / "sockpush.toml", .interval = "1", .prefix = prefix});
  test::sleep_ms(static_cast<int>(before.count()));
  victim.kill();
  out.down = time(nullptr);
  test::sleep_ms(static_cast<int>(down.count()));
  victim.start();
  out.up = time(nullptr);
  test::sleep_ms(static_cast<int>(after.count()));
  out.stopped = time(nullptr);
  REQUIRE(run.stop(15000ms) == 0);
  out.end = time(nullptr);
  // The daemon's own count lives on some of the caches; carbon writes its
  // cache every second.
  std::map<long long, double> collected;
  REQUIRE(test::wait_until(
      [&] {
        collected.clear();
        for (auto* cache : caches)
          collected.merge(
              cache->fetch(prefix + ".sockpush.collected_lines", out.start - 1, out.end + 1));
        return !collected.empty() && collected.rbegin()->first >= out.stopped - 1;
      },
      15000ms));
  out.rounds = test::check_every_round_accounted(collected, out.stopped);
  test::sleep_ms(1500);  // the other metrics of the last round, written after it
  return out;
}

}  // namespace

TEST_CASE(
    "destinations: failover to a second carbon-cache and fail-back after hold_down, none lost") {
  test::daemon_run run;
  const auto& dir = run.dir;
  carbon_cache primary(dir, "primary", 0);
  carbon_cache secondary(dir, "secondary", 1);
  // Default settings: the peer-close replay covers the second carbon-cache
  // drops itself at SIGTERM (see the end-to-end restart test).
  test::write_file(
      dir / "sockpush.toml",
      "[carbon]\ndestinations = [\"" + primary.address() + "\", \"" + secondary.address() +
          "\"]\nhold_down = 3\nreconnect_min = 0.2\nreconnect_max = 1\n" + test::fixed_size_rounds);
  const long long start = time(nullptr);
  run.start({.config = dir / "sockpush.toml", .interval = "1", .prefix = "fo"});
  test::sleep_ms(5000);
  primary.stop();
  const long long failed = time(nullptr);
  test::sleep_ms(5000);
  primary.start();
  const long long back = time(nullptr);
  // The primary was passed over at `failed`; it is tried again every 3 s
  // and the connection moves back once it answers.
  REQUIRE(
      test::wait_until([&] { return run.log().find("fail-back") != std::string::npos; }, 15000ms));
  test::sleep_ms(4000);
  const long long stopped = time(nullptr);
  REQUIRE(run.stop(15000ms) == 0);
  const long long end = time(nullptr);

  // Each round is on one cache or the other: the daemon's own count, from
  // both, says which rounds there were.
  std::map<long long, double> on_primary, on_secondary, collected;
  // carbon writes one metric's file after another: the listen series is
  // read after the count and must have caught up with its last round.
  REQUIRE(test::wait_until(
      [&] {
        collected = primary.fetch("fo.sockpush.collected_lines", start - 1, end + 1);
        collected.merge(secondary.fetch("fo.sockpush.collected_lines", start - 1, end + 1));
        on_primary = primary.fetch("fo.tcp.states.listen", start - 1, end + 1);
        on_secondary = secondary.fetch("fo.tcp.states.listen", start - 1, end + 1);
        if (collected.empty() || collected.rbegin()->first < stopped - 1) return false;
        const auto last_round = collected.rbegin()->first;
        return on_primary.count(last_round) + on_secondary.count(last_round) > 0;
      },
      15000ms));
  REQUIRE(!on_primary.empty());
  REQUIRE(!on_secondary.empty());
  const auto [first, last, per_round] = test::check_every_round_accounted(collected, stopped);
  auto missing = gaps(on_primary, on_secondary, first, last);
  auto log = run.log();
  MESSAGE("points " << first << ".." << last << ": primary " << on_primary.size() << ", secondary "
                    << on_secondary.size() << " (" << on_secondary.begin()->first << ".."
                    << on_secondary.rbegin()->first << "), missing:" << join(missing)
                    << "; primary failed at " << failed << ", back at " << back << "\n"
                    << log);
  CHECK(missing.empty());
  CHECK(last - first + 1 >= 12);
  // The secondary had the rounds while the primary was away, and only then.
  CHECK(on_secondary.begin()->first >= failed - 4);
  CHECK(on_secondary.rbegin()->first <= end);
  // Rounds after the fail-back are on the primary again.
  CHECK(on_primary.rbegin()->first > on_secondary.rbegin()->first);
  CHECK(test::count_of(log, "moved the connection") == 1);
  // Per-destination self-metrics, read back from the primary.
  const auto secondary_name = "127_0_0_1_" + std::to_string(secondary.line_port());
  auto sent_secondary =
      primary.fetch("fo.sockpush.destinations." + secondary_name + ".sent_lines", start, end + 1);
  REQUIRE(!sent_secondary.empty());
  CHECK(sent_secondary.rbegin()->second > 0);
}

TEST_CASE(
    "destinations: carbon_ch puts each metric on the carbon-cache carbon's relay would choose") {
  test::daemon_run run;
  const auto& dir = run.dir;
  carbon_cache a(dir, "a", 0);
  carbon_cache b(dir, "b", 1);
  // b goes away for 3 s: its share waits (and is replayed), a's keeps flowing.
  const auto outage = run_with_a_cache_killed(run, {&a, &b}, b, "", "ch", 4000ms, 3000ms, 5000ms);
  const auto& list = outage.destinations;
  const auto [first, last, per_round] = outage.rounds;
  const auto b_down = outage.down;

  auto on_a = a.metric_paths();
  auto on_b = b.metric_paths();
  std::set<std::string> both;
  for (const auto& p : on_a)
    if (std::find(on_b.begin(), on_b.end(), p) != on_b.end()) both.insert(p);
  MESSAGE(on_a.size() << " metrics on a, " << on_b.size() << " on b, " << both.size()
                      << " on both");
  CHECK(both.empty());
  CHECK(on_a.size() >= 10);
  CHECK(on_b.size() >= 10);
  // Each round holds each metric once: every one of them reached a cache.
  auto ours = [](const std::vector<std::string>& paths) {
    return std::count_if(paths.begin(), paths.end(),
                         [](const auto& p) { return p.rfind("ch.", 0) == 0; });
  };
  CHECK(static_cast<std::size_t>(ours(on_a) + ours(on_b)) == per_round);

  // carbon's own ring, from the installed graphite-carbon, judges every file.
  std::string names;
  for (const auto& p : on_a) names += "a " + p + "\n";
  for (const auto& p : on_b) names += "b " + p + "\n";
  test::write_file(dir / "placed", names);
  test::write_file(dir / "judge.py", R"(import sys
sys.path.insert(0, '/usr/lib/python3/dist-packages')
from carbon.hashing import ConsistentHashRing
from carbon.util import parseDestinations
nodes = [(server, instance) for server, port, instance in parseDestinations(sys.argv[2].split(','))]
ring = ConsistentHashRing(nodes)
wrong = 0
for line in open(sys.argv[1]).read().split('\n')[:-1]:
    where, name = line.split(' ')
    if ring.get_node(name)[1] != where:
        wrong += 1
        print('misplaced', where, name)
print('wrong', wrong)
)");
  int rc = 0;
  auto verdict = test::run_capture(
      "/usr/bin/python3 " + dir / "judge.py" + " " + dir / "placed" + " " + list, &rc);
  REQUIRE(rc == 0);
  MESSAGE("carbon's hashing.py: " << verdict);
  CHECK(verdict.find("wrong 0\n") != std::string::npos);

  // Every metric on each cache has every round of the run, b's outage
  // included (its share waited and was re-sent); a never paused.
  for (auto* cache : {&a, &b}) {
    std::size_t series = 0, missing_points = 0;
    std::string example;
    for (const auto& path : cache->metric_paths()) {
      if (path.rfind("ch.", 0) != 0) continue;
      auto points = cache->fetch(path, first - 1, last + 1);
      auto missing = gaps(points, {}, first, last);
      ++series;
      missing_points += missing.size();
      if (!missing.empty() && example.empty()) example = path + " misses" + join(missing);
    }
    MESSAGE((cache == &a ? "a: " : "b: ")
            << series << " series over " << first << ".." << last << ", " << missing_points
            << " points missing " << example << "; b down at " << b_down);
    CHECK(series >= 10);
    CHECK(missing_points == 0);
  }
}

TEST_CASE(
    "destinations: carbon_ch replication 2 over three carbon-caches, one SIGKILLed for 10 s: "
    "every second on a member throughout, on both once it is back") {
  test::daemon_run run(test::network::private_namespace);
  const auto& dir = run.dir;
  // Three hosts (DIVERSE_REPLICAS, on by default, then changes nothing):
  // 127.0.0.2 and .3 are this namespace's lo too.
  for (const char* host : {"127.0.0.2", "127.0.0.3"}) {
    const auto route = test::run_capture(std::string("ip route get ") + host);
    REQUIRE_MESSAGE(route.find("dev lo") != std::string::npos, route);
  }
  carbon_cache a(dir, "a", 0, "127.0.0.1");
  carbon_cache b(dir, "b", 1, "127.0.0.2");
  carbon_cache c(dir, "c", 2, "127.0.0.3");
  std::vector<carbon_cache*> caches = {&a, &b, &c};
  const auto outage =
      run_with_a_cache_killed(run, caches, b, "replication = 2\n", "rep", 5000ms, 10000ms, 8000ms);
  const auto& list = outage.destinations;
  const auto& rounds = outage.rounds;
  const auto start = outage.start, end = outage.end;

  // Where each metric's files are, judged by carbon's own relay router
  // with REPLICATION_FACTOR = 2.
  std::map<std::string, std::set<std::size_t>> held_by;
  for (std::size_t i = 0; i < caches.size(); ++i)
    for (const auto& path : caches[i]->metric_paths())
      if (path.rfind("rep.", 0) == 0) held_by[path].insert(i);
  std::vector<std::string> names;
  for (const auto& [path, holders] : held_by) names.push_back(path);
  std::string text;
  for (const auto& n : names) text += n + "\n";
  test::write_file(dir / "names", text);
  const auto carbon_says = test::carbon_relay_routes(dir, dir / "names", list, 2, true);
  REQUIRE(carbon_says.size() == names.size());
  std::size_t placed_right = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto route = carbon_says[i];
    const std::set<std::size_t> expected = {std::stoul(route.substr(0, route.find(' '))),
                                            std::stoul(route.substr(route.find(' ') + 1))};
    if (held_by[names[i]] == expected)
      ++placed_right;
    else
      MESSAGE(names[i] << " is on " << held_by[names[i]].size() << " caches, carbon says "
                       << route);
  }
  MESSAGE(names.size() << " metrics, " << placed_right
                       << " on exactly the two caches carbon's router picks");
  CHECK(names.size() == rounds.lines);
  CHECK(placed_right == names.size());

  // Every second of every metric: on one of its members throughout, and on
  // both at the end (b's copies waited in its share and were sent again).
  std::size_t missing_on_both = 0, missing_on_a_member = 0, series_on_b = 0;
  std::string example;
  for (const auto& [path, holders] : held_by) {
    std::vector<std::map<long long, double>> points;
    for (auto i : holders)
      points.push_back(caches[i]->fetch(path, rounds.first - 1, rounds.last + 1));
    series_on_b += holders.count(1);
    points.resize(2);
    missing_on_both += gaps(points[0], points[1], rounds.first, rounds.last).size();
    for (const auto& member : points) {
      const auto missing = gaps(member, {}, rounds.first, rounds.last);
      missing_on_a_member += missing.size();
      if (!missing.empty() && example.empty()) example = path + " misses" + join(missing);
    }
  }
  MESSAGE(held_by.size() << " series over " << rounds.first << ".." << rounds.last << " ("
                         << series_on_b << " with a copy on b, down from " << outage.down << " to "
                         << outage.up << "): " << missing_on_both
                         << " seconds missing on both members, " << missing_on_a_member
                         << " missing on one member " << example);
  CHECK(series_on_b >= 10);
  CHECK(missing_on_both == 0);
  CHECK(missing_on_a_member == 0);

  // Each member's backlog as the daemon reported it: b's grew while it was
  // down and was sent once it was back; a's and c's never waited for b;
  // nothing was dropped anywhere.
  auto reported = [&](const carbon_cache& member, const std::string& host, const char* instance,
                      const char* what) {
    const auto name = host + "_" + std::to_string(member.line_port()) + "_" + instance;
    std::map<long long, double> points;
    for (auto* cache : caches)
      points.merge(
          cache->fetch("rep.sockpush.destinations." + name + "." + what, start - 1, end + 1));
    REQUIRE_MESSAGE(points.size() >= 20, name << "." << what);
    return points;
  };
  auto most = [](const std::map<long long, double>& points) {
    double m = 0;
    for (const auto& [ts, v] : points) m = std::max(m, v);
    return m;
  };
  const auto backlog_a = reported(a, "127_0_0_1", "a", "buffered_lines");
  const auto backlog_b = reported(b, "127_0_0_2", "b", "buffered_lines");
  const auto backlog_c = reported(c, "127_0_0_3", "c", "buffered_lines");
  MESSAGE("buffered_lines at most: b " << most(backlog_b) << " (at the end "
                                       << backlog_b.rbegin()->second << "), a " << most(backlog_a)
                                       << ", c " << most(backlog_c));
  CHECK(most(backlog_b) >= 5.0 * static_cast<double>(series_on_b));
  CHECK(backlog_b.rbegin()->second == 0);
  CHECK(most(backlog_a) <= static_cast<double>(rounds.lines));
  CHECK(most(backlog_c) <= static_cast<double>(rounds.lines));
  CHECK(most(reported(a, "127_0_0_1", "a", "dropped_lines")) == 0);
  CHECK(most(reported(b, "127_0_0_2", "b", "dropped_lines")) == 0);
  CHECK(most(reported(c, "127_0_0_3", "c", "dropped_lines")) == 0);
}

TEST_CASE(
    "destinations: replication 2, a member gone and its share full: its own drops counted, "
    "the others' shares untouched") {
  test::daemon_run run;
  const auto& dir = run.dir;
  std::vector<std::unique_ptr<test::line_sink>> sinks;
  std::string members;
  for (int i = 0; i < 3; ++i) {
    sinks.push_back(std::make_unique<test::line_sink>(dir / ("sink" + std::to_string(i))));
    members += (members.empty() ? "\"" : ", \"") + test::loopback(sinks.back()->port()) + "\"";
  }
  // 12 KiB: a 4 KiB share per member, about one round of a member's copies.
  test::write_file(dir / "sockpush.toml",
                   "[carbon]\nmode = \"fnv1a_ch\"\nreplication = 2\ndestinations = [" + members +
                       "]\nreconnect_min = 0.2\nreconnect_max = 0.5\n[buffer]\nmax_bytes = "
                       "12288\n" +
                       test::fixed_size_rounds);
  const auto gone = "127_0_0_1_" + std::to_string(sinks[1]->port());
  sinks[1]->kill();
  run.start({.config = dir / "sockpush.toml", .interval = "1", .prefix = "d"});
  auto data = [&] { return sinks[0]->data() + sinks[2]->data(); };
  auto last_of = [&](const std::string& all, const std::string& path) {
    const auto s = test::metric(all, path);
    std::map<long long, long long> by_round;
    for (std::size_t i = 0; i < s.values.size(); ++i) by_round[s.timestamps[i]] = s.values[i];
    return by_round;
  };
  const bool dropping = test::wait_until(
      [&] {
        const auto drops = last_of(data(), "d.sockpush.destinations." + gone + ".dropped_lines");
        return drops.size() >= 8 && drops.rbegin()->second > 100;
      },
      20000ms);
  CHECK(run.stop() == 0);
  REQUIRE_MESSAGE(dropping, run.log());
  const auto all = data();
  // In the newest round every living member reported: the gone member's
  // share dropped, the others' did not, and the daemon's total is theirs.
  const auto gone_drops = last_of(all, "d.sockpush.destinations." + gone + ".dropped_lines");
  const auto overflow = last_of(all, "d.sockpush.dropped_lines.overflow");
  long long round = 0, checked = 0;
  for (const auto& [ts, dropped] : gone_drops) {
    long long others = 0;
    bool complete = overflow.count(ts) > 0;
    for (int i : {0, 2}) {
      const auto mine = last_of(all, "d.sockpush.destinations.127_0_0_1_" +
                                         std::to_string(sinks[i]->port()) + ".dropped_lines");
      complete = complete && mine.count(ts) > 0;
      if (mine.count(ts)) others += mine.at(ts);
    }
    if (!complete) continue;
    ++checked;
    round = ts;
    CHECK(others == 0);
    CHECK(overflow.at(ts) == dropped);
  }
  const auto backlog = last_of(all, "d.sockpush.destinations." + gone + ".buffered_lines");
  MESSAGE(checked << " rounds checked; in the last, the gone member's share had dropped "
                  << gone_drops.at(round) << " lines (dropped_lines.overflow " << overflow.at(round)
                  << ") and held " << backlog.at(round)
                  << "; the living members' shares dropped none");
  CHECK(checked >= 5);
  CHECK(gone_drops.at(round) > 100);
  CHECK(backlog.at(round) > 0);
}

TEST_CASE("destinations: reconnect_interval moves the connection make-before-break, no line lost") {
  test::daemon_run run;
  const auto& dir = run.dir;
  auto& sink = run.sink();
  test::write_file(dir / "sockpush.toml",
                   "[carbon]\nreconnect_interval = 1\n" + test::fixed_size_rounds);
  run.start(
      {.config = dir / "sockpush.toml", .carbon = run.carbon(), .interval = "0.2", .prefix = "mv"});
  REQUIRE(run.received(".sockpush.sent_lines", 30, 20000ms));
  CHECK(run.stop() == 0);
  auto data = sink.data();
  auto log = run.log();
  auto sent = test::metric(data, ".sockpush.sent_lines").values;
  auto collected = test::metric(data, ".sockpush.collected_lines").values;
  const auto moves = test::count_of(log, "moved the connection");
  MESSAGE(sink.connections() << " connections, " << moves << " moves, " << sent.size()
                             << " rounds");
  CHECK(sink.connections() >= 4);
  CHECK(moves + 1 == sink.connections());
  CHECK(test::count_of(log, "re-sending") == 0);  // each old connection drained first
  // Every round once, in order: round k reports the lines of rounds 0..k-1
  // as collected, and all of them sent (nothing lost, nothing twice).
  REQUIRE(sent.size() == collected.size());
  const auto per_round = collected.size() > 1 ? collected[1] : 0;
  CHECK(per_round >= 15);
  for (std::size_t k = 0; k < sent.size(); ++k) {
    CHECK(collected[k] == static_cast<long long>(k) * per_round);
    CHECK(sent[k] == collected[k]);
  }
  CHECK(test::split_lines(data).size() == sent.size() * static_cast<std::size_t>(per_round));
}

TEST_CASE("destinations: a DNS change is followed at the next reconnect_interval move") {
  // The name resolves through a hosts file that only sockpush sees: it
  // runs in a private mount namespace with that file bound over /etc/hosts.
  test::temp_dir dir;
  test::line_sink old_home(dir / "old", 0, false, "127.0.0.2");
  test::line_sink new_home(dir / "new", old_home.port(), false, "127.0.0.3");
  const auto hosts = dir / "hosts";
  test::write_file(hosts, "127.0.0.2 carbon.sockpush.test\n");
  test::write_file(dir / "sockpush.toml",
                   "[carbon]\nreconnect_interval = 1\n" + test::fixed_size_rounds);
  const std::string run = "mount --bind " + hosts + " /etc/hosts && exec " +
                          test::shell_line(test::daemon_command(
                              {.config = dir / "sockpush.toml",
                               .carbon = "carbon.sockpush.test:" + std::to_string(old_home.port()),
                               .interval = "0.2",
                               .prefix = "dns"}));
  test::child daemon({"unshare", "--mount", "sh", "-c", run}, {}, dir / "log");
  REQUIRE(test::wait_until(
      [&] { return test::metric(old_home.data(), ".sockpush.sent_lines").values.size() >= 5; },
      10000ms));
  // The same inode, new content: what the bind mount shows changes too.
  test::write_file(hosts, "127.0.0.3 carbon.sockpush.test\n");
  REQUIRE(test::wait_until(
      [&] { return test::metric(new_home.data(), ".sockpush.sent_lines").values.size() >= 5; },
      10000ms));
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(10000ms) == 0);
  auto log = test::read_file(dir / "log");
  MESSAGE(log);
  CHECK(log.find("(127.0.0.3)") != std::string::npos);
  // No round lost or repeated across the move: each collected_lines value
  // 0, n, 2n, ... arrived exactly once at one of the two.
  std::vector<long long> collected;
  for (auto* sink : {&old_home, &new_home})
    for (auto v : test::metric(sink->data(), ".sockpush.collected_lines").values)
      collected.push_back(v);
  std::sort(collected.begin(), collected.end());
  REQUIRE(collected.size() >= 10);
  const auto per_round = collected[1];
  for (std::size_t k = 0; k < collected.size(); ++k)
    CHECK(collected[k] == static_cast<long long>(k) * per_round);
  CHECK(new_home.connections() >= 1);
}

TEST_CASE(
    "destinations: a primary that vanishes without FIN or RST fails over, unacknowledged lines "
    "included") {
  test::daemon_run run(test::network::private_namespace);
  const auto& dir = run.dir;
  test::line_sink primary(dir / "primary");
  test::line_sink secondary(dir / "secondary");
  test::write_file(dir / "sockpush.toml",
                   "[carbon]\ndestinations = [\"127.0.0.1:" + std::to_string(primary.port()) +
                       "\", \"127.0.0.1:" + std::to_string(secondary.port()) +
                       "\"]\nuser_timeout = 2\nconnect_timeout = 1\nhold_down = 60\n"
                       "reconnect_min = 0.2\nreconnect_max = 0.5\n" +
                       test::fixed_size_rounds);
  run.start({.config = dir / "sockpush.toml", .interval = "0.5", .prefix = "gone"});
  REQUIRE(test::wait_until(
      [&] { return test::metric(primary.data(), ".sockpush.sent_lines").values.size() >= 4; },
      5000ms));
  // The primary's host loses power: every packet to it is dropped.
  test::packet_blackhole blackhole(primary.port());
  const auto silenced = std::chrono::steady_clock::now();
  REQUIRE(test::wait_until(
      [&] { return test::metric(secondary.data(), ".sockpush.sent_lines").values.size() >= 1; },
      15000ms));
  const auto failed_over =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - silenced).count();
  // Rounds collected after the failover report the re-sent lines.
  auto most_replayed = [&] {
    auto values = test::metric(secondary.data(), ".sockpush.replayed_lines").values;
    return values.empty() ? 0LL : *std::max_element(values.begin(), values.end());
  };
  CHECK(test::wait_until([&] { return most_replayed() > 0; }, 5000ms));
  CHECK(run.stop() == 0);
  blackhole.lift();

  // Every round, by its collected_lines value, reached one of the two; the
  // ones the primary never acknowledged were re-sent to the secondary.
  std::set<long long> collected;
  for (auto* sink : {&primary, &secondary})
    for (auto v : test::metric(sink->data(), ".sockpush.collected_lines").values)
      collected.insert(v);
  std::vector<long long> rounds(collected.begin(), collected.end());
  REQUIRE(rounds.size() >= 8);
  const auto per_round = rounds[1];
  for (std::size_t k = 0; k < rounds.size(); ++k)
    CHECK(rounds[k] == static_cast<long long>(k) * per_round);
  auto log = run.log();
  MESSAGE("failed over " << failed_over << " s after the primary went silent; " << rounds.size()
                         << " rounds, " << most_replayed() << " lines re-sent to the secondary\n"
                         << log);
  CHECK(failed_over < 6.0);  // user_timeout 2 s after the next unacknowledged round
  CHECK(log.find("never acknowledged (user_timeout 2000 ms)") != std::string::npos);
}
