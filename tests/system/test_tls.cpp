// TLS to carbon against the real TLS end users put in front of carbon:
// Debian's carbon-c-relay (listen ... ssl) forwarding to a real carbon-cache
// or to a line sink, with certificates made for each test by openssl.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <sstream>

#include "support/carbon_cache.hpp"
#include "support/daemon_run.hpp"
#include "support/process.hpp"
#include "support/tls_relay.hpp"

using namespace std::chrono_literals;
using test::carbon_cache;
using test::tls_relay;

namespace {

/// [carbon] for TLS to `relay`, trusting `ca` (in `dir`), asking for `name`.
std::string tls_carbon(const test::temp_dir& dir, const tls_relay& relay,
                       const std::string& extra = {}, const std::string& ca = "ca.pem",
                       const std::string& name = "carbon.test") {
  return "[carbon]\naddress = \"" + relay.address() + "\"\ntls = true\ntls_ca_file = \"" +
         dir / ca + "\"\ntls_server_name = \"" + name +
         "\"\nreconnect_min = 0.2\nreconnect_max = 0.5\n" + extra + test::fixed_size_rounds;
}

/// Established connections from us to `port` (the relay's).
std::size_t connections_to(unsigned port) {
  return test::lines_printed_by("ss -Htn state established 'dport = :" + std::to_string(port) +
                                "'");
}

}  // namespace

TEST_CASE("tls: every round through carbon-c-relay's TLS listener is stored, over one connection") {
  test::daemon_run run;
  const auto& dir = run.dir;
  test::make_certificates(dir.path());
  carbon_cache carbon(dir, "carbon");
  tls_relay relay(dir.path(), dir / "good.pem", carbon.line_port());
  test::write_file(dir / "sockpush.toml", tls_carbon(dir, relay));
  const long long start = time(nullptr);
  auto& daemon = run.start({.config = dir / "sockpush.toml", .interval = "1", .prefix = "tls"});
  std::set<std::size_t> connections;
  for (int i = 0; i < 12; ++i) {
    test::sleep_ms(500);
    connections.insert(connections_to(relay.port()));
  }
  const auto stored =
      test::stop_and_read_back(daemon, carbon, "tls", "sockpush.connection.tls", start);
  const auto rounds = test::check_every_round_accounted(stored.collected, stored.stopped);
  const auto round_count = rounds.last - rounds.first + 1;
  MESSAGE(round_count << " rounds of " << rounds.lines
                      << " lines stored; connections seen: " << *connections.rbegin());
  CHECK(connections == std::set<std::size_t>{1});
  // Over TLS whenever connected: the first round can be collected while
  // the connection is still being made (0 and 0).
  const auto connected =
      carbon.fetch("tls.sockpush.connection.connected", start - 1, stored.end + 1);
  std::size_t over_tls = 0;
  for (auto [ts, value] : stored.also) {
    CHECK_MESSAGE(connected.count(ts) == 1, "no connection.connected at " << ts);
    if (connected.count(ts)) CHECK_MESSAGE(value == connected.at(ts), "not over TLS at " << ts);
    over_tls += value == 1.0;
  }
  CHECK(over_tls + 1 >= stored.also.size());
  const auto reconnects = carbon.fetch("tls.sockpush.reconnects", start - 1, stored.end + 1);
  REQUIRE_FALSE(reconnects.empty());
  CHECK(reconnects.rbegin()->second == 0.0);
}

TEST_CASE(
    "tls: unknown CA, wrong name, expired certificate: refused with OpenSSL's reason, nothing "
    "sent, every round delivered once the configuration is fixed and reloaded") {
  struct case_row {
    const char* certificate;
    const char* reason;   // as OpenSSL words it, in the log
    const char* counter;  // sockpush.tls.handshake_failures.<counter>
    // The fix, then SIGHUP: what to trust, the name to ask for, more [carbon].
    const char *fixed_ca, *fixed_name, *fixed_extra;
  };
  const case_row rows[] = {
      {"unknown-ca.pem", "unable to get local issuer certificate", "unknown_ca", "other-ca.pem",
       "carbon.test", ""},
      {"wrong-name.pem", "hostname mismatch", "name_mismatch", "ca.pem", "elsewhere.test", ""},
      {"expired.pem", "certificate has expired", "expired", "ca.pem", "carbon.test",
       "tls_verify = false\n"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.certificate);
    test::daemon_run run;
    const auto& dir = run.dir;
    test::make_certificates(dir.path());
    test::line_sink sink(dir / "sink");
    tls_relay relay(dir.path(), dir / row.certificate, sink.port());
    const auto config = tls_carbon(dir, relay);
    test::write_file(dir / "sockpush.toml", config);
    const long long start = time(nullptr);
    auto& daemon = run.start({.config = dir / "sockpush.toml", .interval = "1", .prefix = "v"});
    test::sleep_ms(3000);
    const auto refused_log = run.log();
    // Several attempts (every 0.2-0.5 s), one log line for the outage.
    CHECK_MESSAGE(test::count_of(refused_log, row.reason) == 1, refused_log);
    CHECK(sink.data().empty());

    test::write_file(dir / "sockpush.toml",
                     tls_carbon(dir, relay, row.fixed_extra, row.fixed_ca, row.fixed_name));
    daemon.signal(SIGHUP);
    // The rounds buffered while refused arrive, the first one included.
    test::series collected;
    const bool caught_up = test::wait_until(
        [&] {
          collected = test::metric(sink.data(), "v.sockpush.collected_lines");
          return collected.timestamps.size() >= 5;
        },
        10000ms);
    CHECK(run.stop() == 0);
    REQUIRE_MESSAGE(caught_up, run.log());
    // Read again after the stop, which delivers what is left: across the
    // reload the relay has the old connection and the new one, and may
    // forward a round from one after a later round from the other.
    collected = test::metric(sink.data(), "v.sockpush.collected_lines");
    std::set<long long> seconds(collected.timestamps.begin(), collected.timestamps.end());
    // The daemon's first round (it counts 0 lines collected before it) and
    // every one after it.
    CHECK(*std::min_element(collected.values.begin(), collected.values.end()) == 0);
    CHECK(static_cast<long long>(seconds.size()) == *seconds.rbegin() - *seconds.begin() + 1);
    const auto failures =
        test::metric(sink.data(), std::string("v.sockpush.tls.handshake_failures.") + row.counter);
    // Counted until the reload (a new configuration starts from zero).
    const auto most = failures.values.empty()
                          ? 0
                          : *std::max_element(failures.values.begin(), failures.values.end());
    CHECK(most >= 2);
    MESSAGE(std::string(row.certificate)
            << ": refused with \"" << std::string(row.reason) << "\", " << most
            << " failed handshakes counted, then " << seconds.size() << " rounds from "
            << *seconds.begin() - start << " s after the start, none missing");
  }
}

namespace {

struct kill_outcome {
  std::size_t stored = 0;
  std::vector<long long> missing;
  std::vector<long long> kills;
};

/// 60 rounds at 1 s through carbon-c-relay's TLS listener into a
/// carbon-cache, the relay SIGKILLed every 15 s and back 1.5 s later.
kill_outcome run_across_relay_kills(const std::string& carbon_settings, unsigned port_block) {
  test::daemon_run run;
  const auto& dir = run.dir;
  test::make_certificates(dir.path());
  carbon_cache carbon(dir, "carbon", port_block);
  tls_relay relay(dir.path(), dir / "good.pem", carbon.line_port());
  test::write_file(dir / "sockpush.toml", tls_carbon(dir, relay, carbon_settings));
  const long long start = time(nullptr);
  auto& daemon = run.start({.config = dir / "sockpush.toml", .interval = "1", .prefix = "k"});
  kill_outcome outcome;
  for (int i = 0; i < 3; ++i) {
    test::sleep_ms(15000);
    outcome.kills.push_back(time(nullptr));
    relay.kill();
    test::sleep_ms(1500);
    relay.start();
  }
  test::sleep_ms(13500);
  const auto stored = test::stop_and_read_back(daemon, carbon, "k", "tcp.states.listen", start);
  const auto rounds = test::check_every_round_accounted(stored.collected, stored.stopped);
  for (long long ts = rounds.first; ts <= rounds.last; ++ts)
    if (!stored.also.count(ts)) outcome.missing.push_back(ts);
  outcome.stored = stored.also.size();
  std::string missing, kills;
  for (auto ts : outcome.missing) missing += " " + std::to_string(ts - start);
  for (auto ts : outcome.kills) kills += " " + std::to_string(ts - start);
  MESSAGE("[" << carbon_settings.substr(0, carbon_settings.find('\n')) << "] "
              << (rounds.last - rounds.first + 1) << " rounds, " << outcome.stored << " stored, "
              << outcome.missing.size() << " missing (s after start:" << missing
              << " ); relay killed at" << kills << " s");
  return outcome;
}

}  // namespace

TEST_CASE("tls: carbon-c-relay SIGKILLed 3 times in 60 rounds: with replay_seconds none is lost") {
  // A relay killed loses what it had read and not yet forwarded, after TCP
  // (and TLS) acknowledged it. replay_seconds sends the last seconds again;
  // the ciphertext-to-line mapping decides what was never acknowledged.
  auto without = std::async(std::launch::async, run_across_relay_kills,
                            "replay_seconds = 0\npeer_close_replay_seconds = 0\n", 1U);
  const auto with = run_across_relay_kills("replay_seconds = 10\n", 0);
  CHECK(with.missing.empty());
  CHECK(with.stored >= 55);
  // Without: whatever is lost lies just before a kill.
  const auto off = without.get();
  for (auto ts : off.missing) {
    bool before_a_kill = false;
    for (auto k : off.kills) before_a_kill |= ts >= k - 3 && ts <= k + 2;
    CHECK_MESSAGE(before_a_kill, ts << " is not next to a kill");
  }
}

TEST_CASE("tls: a reconnect resumes the TLS session, and the self-metric says so") {
  test::daemon_run run;
  const auto& dir = run.dir;
  test::make_certificates(dir.path());
  auto& sink = run.sink();
  tls_relay relay(dir.path(), dir / "good.pem", sink.port());
  test::write_file(dir / "sockpush.toml", tls_carbon(dir, relay, "reconnect_interval = 1\n"));
  run.start({.config = dir / "sockpush.toml", .interval = "0.5", .prefix = "r"});
  test::series resumed;
  const bool seen = test::wait_until(
      [&] {
        resumed = test::metric(sink.data(), "r.sockpush.connection.tls_resumed");
        return std::count(resumed.values.begin(), resumed.values.end(), 1) >= 2;
      },
      10000ms);
  CHECK(run.stop() == 0);
  std::string values;
  for (auto v : resumed.values) values += std::to_string(v);
  MESSAGE("tls_resumed, round by round: " << values << "; connections: " << sink.connections());
  CHECK(seen);
  REQUIRE_FALSE(resumed.values.empty());
  CHECK(resumed.values.front() == 0);  // the first connection has nothing to resume
  CHECK(sink.connections() == 1);      // the relay's one connection to the sink
}

namespace {

/// openssl s_server on 127.0.0.1: TLS, a client certificate required (by
/// `ca`), what one client sends written to `out`.
std::unique_ptr<test::child> mutual_tls_server(const test::temp_dir& dir, unsigned port,
                                               const std::string& out) {
  // s_server ends at end of its stdin: a FIFO it holds open itself never ends.
  auto server = std::make_unique<test::child>(
      std::vector<std::string>{
          "/bin/sh", "-c",
          "mkfifo " + dir / "stdin" +
              " && exec openssl s_server -quiet -naccept 1 -accept 127.0.0.1:" +
              std::to_string(port) + " -cert " + dir / "good.crt" + " -key " + dir / "good.key" +
              " -CAfile " + dir / "ca.pem" + " -Verify 1 3<>" + dir / "stdin" + " <" +
              dir / "stdin"},
      out, out + ".err");
  REQUIRE(test::wait_until(
      [&] {
        return test::run_capture("ss -Hltn 'sport = :" + std::to_string(port) + "'").size() > 0;
      },
      10000ms));
  return server;
}

}  // namespace

TEST_CASE(
    "tls: sockpush send --tls: every line through the relay, a client certificate, refusals") {
  test::daemon_run run;
  const auto& dir = run.dir;
  test::make_certificates(dir.path());
  auto& sink = run.sink();
  tls_relay relay(dir.path(), dir / "good.pem", sink.port());
  std::string lines;
  for (int i = 0; i < 20000; ++i)
    lines += "tls.send.m" + std::to_string(i % 50) + " " + std::to_string(i) + " 1700000000\n";
  test::write_file(dir / "lines", lines);
  auto send = [&](const std::string& ca) {
    return std::string(SOCKPUSH_BINARY) + " send --tls --tls-server-name carbon.test --tls-ca " +
           dir / ca + " ";
  };
  int rc = -1;
  test::run_capture(send("ca.pem") + relay.address() + " < " + dir / "lines", &rc);
  CHECK(rc == 0);
  CHECK(test::wait_until([&] { return sink.data().size() == lines.size(); }, 10000ms));
  CHECK(sink.data() == lines);

  // The wrong CA: exit 1, the reason and the count on stderr.
  const auto refused = test::run_capture(
      send("other-ca.pem") + "--timeout 2 " + relay.address() + " < " + dir / "lines" + " 2>&1",
      &rc);
  CHECK(rc == 1);
  CHECK(refused.find("unable to get local issuer certificate") != std::string::npos);
  CHECK(refused.find("20000 lines could not be delivered") != std::string::npos);

  // Mutual TLS against openssl s_server, which requires a client certificate.
  const auto port = test::unused_port();
  auto server = mutual_tls_server(dir, port, dir / "received");
  test::run_capture(send("ca.pem") + "--tls-cert " + dir / "client.crt" + " --tls-key " +
                        dir / "client.key" + " 127.0.0.1:" + std::to_string(port) + " < " +
                        dir / "lines",
                    &rc);
  CHECK(rc == 0);
  CHECK(server->wait(10000ms) == 0);
  CHECK(test::read_file(dir / "received") == lines);
}

TEST_CASE(
    "tls: a relay that goes silent (no FIN, no RST): the lines whose ciphertext it never "
    "acknowledged are sent again") {
  test::daemon_run run(test::network::private_namespace);
  const auto& dir = run.dir;
  test::make_certificates(dir.path());
  auto& sink = run.sink();
  tls_relay relay(dir.path(), dir / "good.pem", sink.port());
  // No replay_seconds: only what SIOCOUTQ says is unacknowledged, mapped
  // back from ciphertext to lines, can bring those rounds back.
  test::write_file(dir / "sockpush.toml",
                   tls_carbon(dir, relay, "user_timeout = 2\nconnect_timeout = 1\n"));
  run.start({.config = dir / "sockpush.toml", .interval = "1", .prefix = "s"});
  auto rounds = [&] { return test::metric(sink.data(), "s.tcp.states.listen").timestamps; };
  REQUIRE(test::wait_until([&] { return rounds().size() >= 2; }, 5000ms));
  INFO("the daemon's log: " << run.log());
  {
    test::packet_blackhole blackhole(relay.port());
    // Detected at user_timeout, by sockpush's own check ("... never
    // acknowledged") or, on a loaded machine, by the kernel's a moment later
    // ("Connection timed out"); either way SIOCOUTQ decides what is resent.
    REQUIRE(
        test::wait_until([&] { return run.log().find(" lost: ") != std::string::npos; }, 10000ms));
    test::sleep_ms(1500);
  }
  const auto before = rounds().size();
  REQUIRE(test::wait_until([&] { return rounds().size() >= before + 6; }, 15000ms));
  CHECK(run.stop() == 0);
  const auto ts = rounds();
  const std::set<long long> seconds(ts.begin(), ts.end());
  const auto replayed = test::metric(sink.data(), "s.sockpush.replayed_lines").values;
  REQUIRE_FALSE(replayed.empty());
  MESSAGE("rounds " << *seconds.begin() << ".." << *seconds.rbegin() << ": " << seconds.size()
                    << " distinct, " << ts.size() << " received; replayed lines "
                    << replayed.back());
  CHECK(static_cast<long long>(seconds.size()) == *seconds.rbegin() - *seconds.begin() + 1);
  CHECK(replayed.back() > 0);
}

namespace {

/// carbon-c-relay's own answer (its test mode, -t) for where each name goes
/// in `cluster`: the member addresses it prints, per name.
std::map<std::string, std::set<std::string>> relay_test_mode(const test::temp_dir& dir,
                                                             const std::string& cluster,
                                                             const std::set<std::string>& names) {
  test::write_file(dir / "placement.conf", cluster + "match * send to c stop;\n");
  std::string input;
  for (const auto& n : names) input += n + " 1 1\n";
  test::write_file(dir / "placement.in", input);
  int rc = 0;
  const auto out = test::run_capture(
      "/usr/bin/carbon-c-relay -t -f " + dir / "placement.conf" + " < " + dir / "placement.in",
      &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  // "    * -> NAME", "    fnv1a_ch(c)", a member per line, "    stop".
  std::map<std::string, std::set<std::string>> where;
  std::string name;
  bool members = false;
  for (const auto& line : test::split_lines(out)) {
    const auto text = line.substr(std::min(line.find_first_not_of(' '), line.size()));
    if (text.rfind("* -> ", 0) == 0) {
      name = text.substr(5);
      members = false;
    } else if (!name.empty() && text.find("(c)") != std::string::npos) {
      members = true;
    } else if (members && text == "stop") {
      name.clear();
      members = false;
    } else if (members) {
      where[name].insert(text);
    }
  }
  return where;
}

/// The remote ports of `pid`'s established TCP connections.
std::vector<unsigned> peer_ports_of(pid_t pid) {
  std::vector<unsigned> ports;
  for (const auto& line : test::split_lines(test::run_capture("ss -Htnp state established"))) {
    if (line.find("pid=" + std::to_string(pid) + ",") == std::string::npos) continue;
    // Recv-Q Send-Q Local:Port Peer:Port Process
    std::istringstream fields(line);
    std::string recv_q, send_q, local, peer;
    fields >> recv_q >> send_q >> local >> peer;
    ports.push_back(static_cast<unsigned>(std::stoul(peer.substr(peer.rfind(':') + 1))));
  }
  return ports;
}

}  // namespace

TEST_CASE(
    "tls: fnv1a_ch replication 2 over three carbon-c-relay TLS listeners, one SIGKILLed twice: "
    "every member's sink has every second, and only through its relay") {
  test::daemon_run run;
  const auto& dir = run.dir;
  test::make_certificates(dir.path());
  std::vector<std::unique_ptr<test::line_sink>> sinks;
  std::vector<std::unique_ptr<tls_relay>> relays;
  std::string members, cluster = "cluster c fnv1a_ch replication 2\n";
  for (int i = 0; i < 3; ++i) {
    const auto home = dir / ("member" + std::to_string(i));
    std::filesystem::create_directories(home);
    sinks.push_back(std::make_unique<test::line_sink>(home + "/sink"));
    relays.push_back(std::make_unique<tls_relay>(home, dir / "good.pem", sinks.back()->port()));
    members += (members.empty() ? "\"" : ", \"") + relays.back()->address() + "\"";
    cluster += "    " + relays.back()->address() + "\n";
  }
  cluster += "    ;\n";
  test::write_file(dir / "sockpush.toml",
                   "[carbon]\nmode = \"fnv1a_ch\"\nreplication = 2\ndestinations = [" + members +
                       "]\ntls = true\ntls_ca_file = \"" + dir / "ca.pem" +
                       "\"\ntls_server_name = \"carbon.test\"\nreplay_seconds = 10\n"
                       "reconnect_interval = 4\nreconnect_min = 0.2\nreconnect_max = 0.5\n" +
                       test::fixed_size_rounds);
  auto& daemon = run.start({.config = dir / "sockpush.toml", .interval = "1", .prefix = "cl"});
  const long long start = time(nullptr);
  std::set<unsigned> relay_ports;
  for (const auto& r : relays) relay_ports.insert(r->port());
  // sockpush's connections go to the relays' TLS ports, never to a sink.
  std::size_t looked = 0, elsewhere = 0;
  auto look_at_connections = [&] {
    for (auto port : peer_ports_of(daemon.pid())) elsewhere += !relay_ports.count(port);
    ++looked;
  };
  std::vector<long long> kills;
  for (int k = 0; k < 2; ++k) {
    test::sleep_ms(8000);
    look_at_connections();
    kills.push_back(time(nullptr));
    relays[1]->kill();
    test::sleep_ms(1500);
    look_at_connections();
    relays[1]->start();
  }
  test::sleep_ms(10000);
  look_at_connections();
  const long long stopped = time(nullptr);
  REQUIRE(run.stop(15000ms) == 0);
  test::sleep_ms(1000);  // the relays forward what they still hold

  // What each sink got: per metric, the seconds.
  std::vector<std::map<std::string, std::set<long long>>> got(3);
  std::set<std::string> names;
  std::size_t unreadable = 0;
  for (std::size_t i = 0; i < 3; ++i)
    for (const auto& line : test::split_lines(sinks[i]->data())) {
      std::istringstream fields(line);
      std::string path, value;
      long long ts = 0;
      if (!(fields >> path >> value >> ts) || path.rfind("cl.", 0) != 0) {
        ++unreadable;
        continue;
      }
      got[i][path].insert(ts);
      names.insert(path);
    }
  CHECK(unreadable == 0);
  // The rounds: the first and last second the daemon's count was seen.
  long long first = LLONG_MAX, last = 0;
  for (const auto& sink : got)
    if (auto it = sink.find("cl.sockpush.collected_lines"); it != sink.end()) {
      first = std::min(first, *it->second.begin());
      last = std::max(last, *it->second.rbegin());
    }
  REQUIRE(last > first);
  CHECK(last >= stopped - 1);

  // Each metric on exactly the two members carbon-c-relay itself picks,
  // and every second of the run on both.
  const auto relay_says = relay_test_mode(dir, cluster, names);
  std::size_t placed_right = 0, missing = 0, on_killed = 0;
  std::string example;
  for (const auto& name : names) {
    std::set<std::string> holders;
    for (std::size_t i = 0; i < 3; ++i)
      if (got[i].count(name)) holders.insert(relays[i]->address());
    const auto said = relay_says.find(name);
    placed_right += said != relay_says.end() && said->second == holders;
    on_killed += holders.count(relays[1]->address());
    for (std::size_t i = 0; i < 3; ++i) {
      if (!got[i].count(name)) continue;
      for (long long ts = first; ts <= last; ++ts)
        if (!got[i][name].count(ts)) {
          ++missing;
          if (example.empty())
            example =
                name + " at " + std::to_string(ts - start) + " s on member " + std::to_string(i);
        }
    }
  }
  std::string kill_times;
  for (auto k : kills) kill_times += " " + std::to_string(k - start);
  MESSAGE(names.size() << " metrics over " << (last - first + 1) << " s; " << placed_right
                       << " on the two members carbon-c-relay -t picks; " << on_killed
                       << " with a copy behind the relay killed at" << kill_times << " s; "
                       << missing << " seconds missing on a member " << example);
  CHECK(placed_right == names.size());
  CHECK(on_killed >= 10);
  CHECK(missing == 0);

  // Only TLS: sockpush talked to the relays' TLS ports alone, and each
  // sink's connections are its relay's, one per relay start.
  MESSAGE("connections looked at " << looked << " times, " << elsewhere
                                   << " to a port other than a relay's; sink connections "
                                   << sinks[0]->connections() << " " << sinks[1]->connections()
                                   << " " << sinks[2]->connections());
  CHECK(elsewhere == 0);
  CHECK(sinks[0]->connections() == 1);
  CHECK(sinks[1]->connections() == 3);
  CHECK(sinks[2]->connections() == 1);
  // Every round said TLS, and each member resumed its session at a planned
  // reconnect (reconnect_interval) on its own.
  const auto all = sinks[0]->data() + sinks[1]->data() + sinks[2]->data();
  auto by_second = [&](const std::string& path) {
    const auto s = test::metric(all, path);
    std::map<long long, long long> values;
    for (std::size_t i = 0; i < s.values.size(); ++i) values[s.timestamps[i]] = s.values[i];
    return values;
  };
  const auto connected = by_second("cl.sockpush.connection.connected");
  const auto tls = by_second("cl.sockpush.connection.tls");
  std::size_t connected_rounds = 0, connected_not_tls = 0;
  for (const auto& [ts, up] : connected) {
    connected_rounds += up == 1;
    connected_not_tls += up == 1 && (!tls.count(ts) || tls.at(ts) != 1);
  }
  MESSAGE(connected_rounds << " rounds with every member connected, " << connected_not_tls
                           << " of them not all TLS");
  CHECK(connected_rounds >= 15);
  CHECK(connected_not_tls == 0);
  for (const auto& r : relays) {
    auto name = r->address();
    std::replace(name.begin(), name.end(), '.', '_');
    std::replace(name.begin(), name.end(), ':', '_');
    const auto resumed = test::metric(all, "cl.sockpush.destinations." + name + ".tls_resumed");
    CHECK_MESSAGE(std::count(resumed.values.begin(), resumed.values.end(), 1) >= 1,
                  name << " never resumed");
  }
}
