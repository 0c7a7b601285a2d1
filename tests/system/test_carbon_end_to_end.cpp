// End to end with Debian's real carbon-cache on a private port and data dir:
// what sockpush sends is read back from whisper files with whisper-fetch.
#include <doctest/doctest.h>
#include <signal.h>

#include <filesystem>
#include <future>
#include <map>
#include <sstream>
#include <vector>

#include "support/carbon_cache.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;

using test::carbon_cache;

TEST_CASE("end to end: rounds pushed to a real carbon-cache are stored in whisper") {
  test::temp_dir dir;
  carbon_cache carbon(dir);
  const long long start = time(nullptr);
  // No per-destination lines: every round has the same size.
  test::write_file(dir / "sockpush.toml", test::fixed_size_rounds);
  test::child daemon(test::daemon_command({.config = dir / "sockpush.toml",
                                           .carbon = test::loopback(carbon.line_port()),
                                           .interval = "1",
                                           .prefix = "e2e.{host}"}),
                     {}, dir / "log");
  test::sleep_ms(4500);
  const long long stopped = time(nullptr);
  daemon.signal(SIGTERM);
  REQUIRE(daemon.wait(10000ms) == 0);
  const long long end = time(nullptr) + 1;

  std::string host = test::run_capture("hostname -s");
  host = host.substr(0, host.find('\n'));
  for (char& c : host)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  const auto prefix = "e2e." + host;

  std::map<long long, double> sent, listen, collected;
  // carbon writes points ~1 s after they arrive; every round sockpush
  // collected before the SIGTERM must be there, with all three series.
  REQUIRE(test::wait_until(
      [&] {
        sent = carbon.fetch(prefix + ".sockpush.sent_lines", start - 1, end);
        listen = carbon.fetch(prefix + ".tcp.states.listen", start - 1, end);
        collected = carbon.fetch(prefix + ".sockpush.collected_lines", start - 1, end);
        return sent.size() >= 4 && listen.size() == sent.size() &&
               collected.size() == sent.size() && collected.rbegin()->first >= stopped - 1;
      },
      15000ms));
  // From the daemon's first round to its last before the SIGTERM, by its own count.
  test::check_every_round_accounted(collected, stopped);
  MESSAGE("points read back: sent_lines=" << sent.size() << " listen=" << listen.size());
  // One point per second, and round k reports k rounds of lines sent.
  const double round_lines = std::next(sent.begin())->second;
  CHECK(round_lines >= 15.0);
  long long k = 0;
  long long previous = sent.begin()->first - 1;
  for (const auto& [ts, value] : sent) {
    CHECK(ts == previous + 1);
    CHECK(value == doctest::Approx(round_lines * static_cast<double>(k)));
    CHECK(listen.count(ts) == 1);
    previous = ts;
    ++k;
  }
  // carbon-cache itself listens on three ports, so at least 3 listeners.
  for (const auto& [ts, value] : listen) CHECK(value >= 3.0);
}

namespace {

struct restart_outcome {
  std::vector<long long> missing;  ///< seconds with no stored point
  /// When each stop (or kill) began and when carbon had exited.
  std::vector<std::pair<long long, long long>> stops;
  std::size_t stored = 0;
  std::size_t replays = 0;
};

/// Rounds at 1 s while carbon-cache goes away 3 times (SIGKILL or SIGTERM)
/// and comes back 1.5 s later; what carbon stored, read back from whisper.
/// Runs side by side take different `port_block`s.
restart_outcome run_across_restarts(bool sigkill, const std::string& carbon_settings,
                                    int seconds_between, unsigned port_block = 0) {
  test::temp_dir dir;
  carbon_cache carbon(dir, "carbon", port_block);
  test::write_file(dir / "sockpush.toml", "[carbon]\nreconnect_min = 0.2\nreconnect_max = 1\n" +
                                              carbon_settings + test::fixed_size_rounds);
  restart_outcome outcome;
  const long long start = time(nullptr);
  test::child daemon(test::daemon_command({.config = dir / "sockpush.toml",
                                           .carbon = carbon.address(),
                                           .interval = "1",
                                           .prefix = "faults"}),
                     {}, dir / "log");
  for (int round = 0; round < 3; ++round) {
    test::sleep_ms(seconds_between * 1000);
    const long long stopping = time(nullptr);
    if (sigkill)
      carbon.kill();
    else
      carbon.stop();
    outcome.stops.emplace_back(stopping, time(nullptr));
    test::sleep_ms(1500);
    carbon.start();
  }
  test::sleep_ms(seconds_between * 1000);
  const auto run = test::stop_and_read_back(daemon, carbon, "faults", "tcp.states.listen", start);
  const auto& listen = run.also;
  test::check_every_round_accounted(run.collected, run.stopped);
  for (long long ts = listen.begin()->first; ts <= listen.rbegin()->first; ++ts)
    if (!listen.count(ts)) outcome.missing.push_back(ts);
  auto log = test::read_file(dir / "log");
  for (auto at = log.find("re-sending"); at != std::string::npos;
       at = log.find("re-sending", at + 1))
    ++outcome.replays;
  outcome.stored = listen.size();
  std::string missing, stops;
  for (auto ts : outcome.missing) missing += " " + std::to_string(ts);
  for (auto [from, to] : outcome.stops)
    stops += " " + std::to_string(from) + "-" + std::to_string(to);
  MESSAGE((sigkill ? "SIGKILL" : "SIGTERM")
          << " [" << carbon_settings.substr(0, carbon_settings.find('\n')) << "]: points "
          << listen.begin()->first << ".." << listen.rbegin()->first << ": " << outcome.stored
          << " stored, " << outcome.missing.size() << " missing (" << missing << " ), stops at"
          << stops << "; " << outcome.replays << " replays");
  return outcome;
}

}  // namespace

TEST_CASE("end to end: 60 rounds, carbon-cache SIGKILLed 3 times, every round stored (replay)") {
  // replay_seconds re-sends what carbon's kernel acknowledged but carbon
  // itself never wrote: a SIGKILLed carbon-cache loses its cache and its
  // socket's receive queue.
  auto outcome = run_across_restarts(true, "replay_seconds = 10\n", 15);
  CHECK(outcome.missing.empty());
  CHECK(outcome.replays >= 3);
}

TEST_CASE("end to end: carbon-cache restarted with SIGTERM 3 times, every round stored") {
  // carbon-cache 1.1.7 writes its cache from a thread that sleeps 1 s between
  // passes and ends when the reactor stops (carbon/writer.py writeForever):
  // what it read in its last second is dropped by carbon itself, after TCP
  // and carbon acknowledged it. The FIN carbon sends when it stops is what
  // tells sockpush: by default it re-sends the last 2 s (peer_close_replay_seconds).
  // Both settings run side by side, each with its own carbon-cache.
  auto without_replay = std::async(std::launch::async, run_across_restarts, false,
                                   "peer_close_replay_seconds = 0\n", 8, 1U);
  auto outcome = run_across_restarts(false, "", 8);
  CHECK(outcome.missing.empty());
  CHECK(outcome.replays >= 3);
  // Without it, only carbon's own loss shows: whatever is missing lies in
  // a second just before a stop.
  auto off = without_replay.get();
  CHECK(off.missing.size() <= off.stops.size());
  for (auto ts : off.missing) {
    bool just_before_a_stop = false;
    for (auto [from, to] : off.stops) just_before_a_stop |= ts >= from - 2 && ts <= to;
    CHECK_MESSAGE(just_before_a_stop, ts << " is not in carbon's last second before it stopped");
  }
}
