// TLS to carbon against the real TLS end users put in front of carbon:
// Debian's carbon-c-relay (listen ... ssl) forwarding to a real carbon-cache
// or to a line sink, with certificates made for each test by openssl.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <future>
#include <map>
#include <set>

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
    std::set<long long> seconds(collected.timestamps.begin(), collected.timestamps.end());
    // The daemon's first round (it counts 0 lines collected before it) and
    // every one after it.
    CHECK(collected.values.front() == 0);
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
