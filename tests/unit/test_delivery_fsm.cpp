// The delivery decisions one at a time, each in a scripted run of the
// simulation (unit/delivery_sim.hpp): failover order and hold_down, dead
// connections, what goes back to the buffer, and the final drain.
#include <doctest/doctest.h>

#include "unit/delivery_sim.hpp"

using namespace sockpush;
using namespace std::chrono_literals;
using test::delivery_sim;
using test::fault;

namespace {

/// Time since the start of the run.
delivery_sim::duration since_start(delivery_sim::clock::time_point t) {
  return t - delivery_sim::epoch();
}

/// The destination of every connect, in order.
std::vector<std::size_t> connects(const delivery_sim& sim) {
  std::vector<std::size_t> all;
  for (const auto& [when, a] : sim.actions())
    if (const auto* c = std::get_if<action::connect>(&a.what)) all.push_back(c->destination);
  return all;
}

/// When each action of kind `Action` was carried out.
template <typename Action>
std::vector<delivery_sim::duration> times_of(const delivery_sim& sim) {
  std::vector<delivery_sim::duration> all;
  for (const auto& [when, a] : sim.actions())
    if (std::holds_alternative<Action>(a.what)) all.push_back(since_start(when));
  return all;
}

/// The one report of kind `Report` the run made (a test failure if there
/// were none or several).
template <typename Report>
Report only(const delivery_sim& sim) {
  const auto all = sim.reports<Report>();
  REQUIRE(all.size() == 1);
  return all.front();
}

/// Lines numbered [first, first + count) were each stored exactly `times`.
bool stored_times(const delivery_sim& sim, std::size_t first, std::size_t count, int times) {
  for (auto n = first; n < first + count; ++n) {
    auto it = sim.stored().find("sweep." + std::to_string(n) + " 1 1700000000");
    if ((it == sim.stored().end() ? 0 : it->second) != times) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("delivery: buffered lines go out on one connection, once, and the drain ends delivered") {
  delivery_sim sim(test::quick_timers());
  sim.add_lines(test::numbered_lines(0, 100));
  sim.finish(1s, 5s);
  sim.run();
  CHECK(sim.fsm().done());
  CHECK(sim.fsm().delivered());
  CHECK(stored_times(sim, 0, 100, 1));
  CHECK(sim.connections(0) == 1);
  CHECK(only<report::connected>(sim).destination == 0);
  CHECK(sim.fsm().stats().sent_lines == 100);
  CHECK(sim.fsm().stats().reconnects == 0);
}

TEST_CASE("failover: a refused connect tries the next destination, a failed round backs off") {
  auto cfg = test::quick_timers();
  delivery_sim sim(cfg, 2);
  sim.set_reachable(0, false);
  sim.set_reachable(1, false);
  sim.add_lines(test::numbered_lines(0, 10));
  sim.run(1s);
  const auto tries = connects(sim);
  REQUIRE(tries.size() >= 4);
  // Within a round, in order; then every destination is passed over, so
  // every one is tried again.
  for (std::size_t i = 0; i < tries.size(); ++i) CHECK(tries[i] == i % 2);
  // Between rounds: a pause below the backoff ceiling (100 ms, 200 ms, ...).
  const auto at = times_of<action::connect>(sim);
  CHECK(at[2] - at[1] <= 100ms + 1ms);
  CHECK(at[4] - at[3] <= 200ms + 1ms);
  CHECK(only<report::cannot_connect>(sim).failures ==
        std::vector<attempt_failure>{{0, "Connection refused"}, {1, "Connection refused"}});
  CHECK(sim.fsm().phase() == delivery_phase::backing_off);
}

TEST_CASE("failover: a destination that failed is passed over for hold_down, then tried again") {
  auto cfg = test::quick_timers();
  cfg.hold_down = 2s;
  delivery_sim sim(cfg, 3);
  sim.set_reachable(0, false);
  sim.add_lines(test::numbered_lines(0, 10));
  sim.at(500ms, [&] { sim.peer_fault(1, fault::close); });
  sim.run(1900ms);
  // 0 refused at ~0 s, 1 lost at 0.5 s: both passed over, so 2 is next.
  CHECK(connects(sim) == std::vector<std::size_t>{0, 1, 2});
  sim.run(1s);
  // At 2 s 0 may be tried again (a fail-back attempt: still refused, so
  // passed over again); at 2.5 s 1 may, and the connection moves there.
  CHECK(connects(sim) == std::vector<std::size_t>{0, 1, 2, 0, 1});
  CHECK(times_of<action::connect>(sim).at(3) == 2001ms);
  CHECK(times_of<action::connect>(sim).at(4) == 2500ms);
  const auto stayed = only<report::move_failed>(sim);
  CHECK((stayed.from == 2 && stayed.to == 0));
  const auto moved = only<report::moved>(sim);
  CHECK((moved.from == 2 && moved.to == 1 && moved.why == move_reason::fail_back));
  CHECK(sim.fsm().destinations().at(1).connected);
}

TEST_CASE("failover: a move is make-before-break: FIN on the old one, closed once acknowledged") {
  auto cfg = test::quick_timers();
  cfg.reconnect_interval = 1s;
  delivery_sim sim(cfg, 1, 1 << 20, 64 * 1024, 50ms);
  sim.add_lines(test::numbered_lines(0, 50));
  sim.add_lines(test::numbered_lines(50, 50), 980ms);  // still unacknowledged at the move
  sim.finish(1500ms, 5s);
  sim.run();
  const auto fin = times_of<action::shutdown_send>(sim);
  const auto closes = times_of<action::close>(sim);
  REQUIRE(!fin.empty());
  REQUIRE(!closes.empty());
  CHECK(fin.front() == 1002ms);     // the new connection is up (1 ms after the move began)
  CHECK(closes.front() >= 1030ms);  // the old one closed once the last round's ACK came
  CHECK(sim.connections(0) == 2);
  CHECK(sim.fsm().stats().replayed_lines == 0);
  CHECK(stored_times(sim, 0, 100, 1));
  CHECK(sim.fsm().delivered());
}

TEST_CASE("outage: reported once when it starts and once when it ends, with its length") {
  delivery_sim sim(test::quick_timers());
  sim.set_reachable(0, false);
  sim.add_lines(test::numbered_lines(0, 10));
  sim.at(3s, [&] { sim.set_reachable(0, true); });
  sim.finish(4s, 5s);
  sim.run();
  CHECK(connects(sim).size() > 8);
  CHECK(sim.reports<report::cannot_connect>().size() == 1);
  CHECK(only<report::reconnected>(sim).outage > 2900ms);
  CHECK(sim.fsm().stats().reconnects == 1);
  CHECK(sim.fsm().delivered());
}

TEST_CASE("dead peer: the peer's FIN or reset ends the connection, counted by cause") {
  for (auto what : {fault::close, fault::reset}) {
    delivery_sim sim(test::quick_timers());
    sim.add_lines(test::numbered_lines(0, 10));
    sim.at(500ms, [&] { sim.peer_fault(0, what); });
    sim.add_lines(test::numbered_lines(10, 10), 1s);
    sim.finish(1500ms, 5s);
    sim.run();
    const auto cause =
        what == fault::close ? disconnect_cause::closed_by_peer : disconnect_cause::reset;
    const auto& disconnects = sim.fsm().stats().disconnects;
    CHECK(disconnects[disconnect_cause::closed_by_peer] == (what == fault::close ? 1u : 0u));
    CHECK(disconnects[disconnect_cause::reset] == (what == fault::reset ? 1u : 0u));
    const auto lost = only<report::lost>(sim);
    CHECK(lost.loss.cause == cause);
    CHECK(lost.loss.how == loss_noticed::by_read);
    CHECK(sim.connections(0) == 2);
    CHECK(stored_times(sim, 0, 20, 1));
  }
}

TEST_CASE("dead peer: bytes unacknowledged for exactly user_timeout, no ACK since, end it") {
  auto cfg = test::quick_timers();
  cfg.user_timeout = 2s;
  delivery_sim sim(cfg);
  sim.add_lines(test::numbered_lines(0, 10));
  sim.at(1s, [&] { sim.peer_fault(0, fault::silence); });
  sim.add_lines(test::numbered_lines(10, 10), 1500ms);  // never acknowledged
  sim.run(5s);
  const auto dropped = sim.when_reported<report::lost>();
  REQUIRE(dropped);
  CHECK(since_start(*dropped) == 3500ms);
  const auto loss = only<report::lost>(sim).loss;
  CHECK(loss.how == loss_noticed::by_ack_check);
  CHECK(loss.waited == 2000ms);
  CHECK(loss.limit == 2000ms);
  CHECK(sim.fsm().stats().disconnects[disconnect_cause::timed_out] == 1);
}

TEST_CASE("dead peer: a slow peer that keeps acknowledging is not taken for a dead one") {
  auto cfg = test::quick_timers();
  cfg.user_timeout = 1s;
  cfg.stall_timeout = 30s;
  // 4 KB acknowledged every 400 ms: the oldest unacknowledged byte is seconds old.
  delivery_sim sim(cfg, 1, 1 << 20, 4096, 400ms);
  sim.add_lines(test::numbered_lines(0, 2000));
  sim.finish(100ms, 30s);
  sim.run();
  CHECK(sim.fsm().stats().disconnects[disconnect_cause::timed_out] == 0);
  CHECK(sim.connections(0) == 1);
  CHECK(since_start(sim.now()) > 4s);  // four times user_timeout
  CHECK(sim.fsm().delivered());
}

TEST_CASE("dead peer: a write with no progress for stall_timeout ends the connection") {
  auto cfg = test::quick_timers();
  cfg.stall_timeout = 1s;
  cfg.user_timeout = 30s;
  delivery_sim sim(cfg, 1, 1 << 20, 1024);
  sim.add_lines(test::numbered_lines(0, 200));
  sim.at(1ms + 1us, [&] { sim.peer_fault(0, fault::silence); });  // right after the first write
  sim.finish(2s, 10s);
  sim.run();
  const auto stalled = sim.when_reported<report::lost>();
  REQUIRE(stalled);
  CHECK(since_start(*stalled) == 1001ms);
  const auto loss = only<report::lost>(sim).loss;
  CHECK(loss.how == loss_noticed::by_stall_timer);
  CHECK(loss.limit == 1000ms);
  CHECK(sim.fsm().stats().disconnects[disconnect_cause::stalled] == 1);
  CHECK(stored_times(sim, 0, 200, 1));
}

TEST_CASE("replay: the lines the kernel reports unacknowledged go back, no more, no fewer") {
  delivery_sim sim(test::quick_timers());
  sim.add_lines(test::numbered_lines(0, 10));
  sim.at(1s, [&] { sim.peer_fault(0, fault::silence); });
  sim.add_lines(test::numbered_lines(10, 10), 1500ms);  // never acknowledged
  sim.finish(4s, 5s);
  sim.run();
  CHECK(sim.fsm().stats().replayed_lines == 10);
  CHECK(only<report::replaying>(sim).lines == 10);
  CHECK(stored_times(sim, 0, 20, 1));
  CHECK(sim.fsm().delivered());
}

TEST_CASE("replay: replay_seconds re-sends from the first write at or after failure - window") {
  auto cfg = test::quick_timers();
  cfg.replay_seconds = 1s;
  delivery_sim sim(cfg);
  sim.add_lines(test::numbered_lines(0, 10));                // 0.001 s: before the window
  sim.add_lines(test::numbered_lines(10, 10), 600ms);        // 0.6 s: the window's first write
  sim.add_lines(test::numbered_lines(20, 10), 1200ms);       // 1.2 s
  sim.at(1600ms, [&] { sim.peer_fault(0, fault::reset); });  // window from 0.6 s
  sim.finish(2s, 5s);
  sim.run();
  CHECK(sim.fsm().stats().replayed_lines == 20);
  CHECK(stored_times(sim, 0, 10, 1));
  CHECK(stored_times(sim, 10, 20, 2));
}

TEST_CASE(
    "replay: peer_close_replay_seconds re-sends the last seconds after the peer's FIN, not a "
    "timeout") {
  auto cfg = test::quick_timers();
  cfg.peer_close_replay_seconds = 1s;
  for (auto what : {fault::close, fault::silence}) {
    delivery_sim sim(cfg);
    sim.add_lines(test::numbered_lines(0, 10));           // 0.001 s
    sim.add_lines(test::numbered_lines(10, 10), 1200ms);  // 1.2 s
    sim.at(1500ms, [&] { sim.peer_fault(0, what); });
    sim.finish(5s, 5s);
    sim.run();
    CAPTURE(static_cast<int>(what));
    CHECK(stored_times(sim, 0, 10, 1));
    // After a FIN the last second goes again (carbon may have dropped it);
    // a silent peer is ended by the timeout: nothing acknowledged goes again.
    CHECK(stored_times(sim, 10, 10, what == fault::close ? 2 : 1));
  }
}

TEST_CASE("replay: what must go again but is older than the history kept is reported lost") {
  auto cfg = test::quick_timers();
  cfg.send_buffer = 4096;  // history: two send buffers and a line buffer, 16 KiB
  cfg.replay_seconds = 10s;
  delivery_sim sim(cfg, 1, 8192);
  for (int r = 0; r < 10; ++r)  // 24 KB
    sim.add_lines(test::numbered_lines(static_cast<std::size_t>(r) * 100, 100), r * 50ms);
  sim.at(1s, [&] { sim.peer_fault(0, fault::reset); });
  sim.run(2s);
  CHECK(only<report::replay_truncated>(sim).bytes > 0);
  CHECK(sim.fsm().stats().replayed_lines > 0);
  CHECK(sim.fsm().stats().replayed_lines < 1000);
}

TEST_CASE("finish: the drain waits for every acknowledgement before it closes") {
  delivery_sim sim(test::quick_timers(), 1, 1 << 20, 64 * 1024, 300ms);
  sim.add_lines(test::numbered_lines(0, 10));
  sim.finish(10ms, 5s);
  sim.run();
  const auto closes = times_of<action::close>(sim);
  REQUIRE(closes.size() == 1);
  CHECK(closes.front() >= 301ms);  // the ACK of the write at 1 ms
  CHECK(closes.front() <= 311ms);  // polled every 10 ms
  CHECK(sim.fsm().delivered());
  CHECK(stored_times(sim, 0, 10, 1));
}

TEST_CASE("finish: at the deadline what was never acknowledged goes back to the buffer") {
  auto cfg = test::quick_timers();
  cfg.user_timeout = 30s;
  delivery_sim sim(cfg);
  sim.add_lines(test::numbered_lines(0, 10));
  sim.at(1ms + 1us, [&] { sim.peer_fault(0, fault::silence); });
  sim.finish(100ms, 1s);
  sim.run();
  REQUIRE(sim.fsm().done());
  CHECK(since_start(sim.now()) == 1100ms);
  CHECK_FALSE(sim.fsm().delivered());
  CHECK(sim.buffer().lines() == 10);
  CHECK(only<report::undelivered>(sim).lines == 10);
}

TEST_CASE("finish: a connection lost during the drain is made again, the lines re-sent") {
  auto cfg = test::quick_timers();
  cfg.user_timeout = 1s;
  delivery_sim sim(cfg);
  sim.add_lines(test::numbered_lines(0, 10));
  sim.at(1ms + 1us, [&] { sim.peer_fault(0, fault::silence); });
  sim.finish(10ms, 5s);
  sim.run();
  CHECK(sim.fsm().stats().disconnects[disconnect_cause::timed_out] == 1);
  CHECK(sim.connections(0) == 2);
  CHECK(sim.fsm().delivered());
  CHECK(stored_times(sim, 0, 10, 1));
}

TEST_CASE("finish: the deadline ends a write that is blocked, at the deadline") {
  auto cfg = test::quick_timers();
  cfg.stall_timeout = 30s;
  cfg.user_timeout = 30s;
  delivery_sim sim(cfg, 1, 1 << 20, 1024);
  sim.add_lines(test::numbered_lines(0, 200));
  sim.at(1ms + 1us, [&] { sim.peer_fault(0, fault::silence); });
  sim.finish(100ms, 1s);
  sim.run();
  REQUIRE(sim.fsm().done());
  CHECK(since_start(sim.now()) == 1100ms);
  CHECK(sim.buffer().lines() == 200);  // the blocked batch and the unacknowledged bytes
  CHECK_FALSE(sim.fsm().delivered());
}

TEST_CASE("finish: carbon unreachable, done at the deadline with the lines still buffered") {
  delivery_sim sim(test::quick_timers());
  sim.set_reachable(0, false);
  sim.add_lines(test::numbered_lines(0, 10));
  sim.finish(0ms, 1s);
  sim.run();
  REQUIRE(sim.fsm().done());
  CHECK(since_start(sim.now()) <= 1s);
  CHECK(sim.buffer().lines() == 10);
  CHECK_FALSE(sim.fsm().delivered());
}

TEST_CASE("finish: while backing off, the next attempt is made at once") {
  auto cfg = test::quick_timers();
  cfg.reconnect_min = 1s;
  cfg.reconnect_max = 1s;
  delivery_sim sim(cfg);
  sim.set_reachable(0, false);
  sim.add_lines(test::numbered_lines(0, 10));
  sim.at(200ms, [&] { sim.set_reachable(0, true); });
  sim.finish(300ms, 5s);
  sim.run();
  const auto at = times_of<action::connect>(sim);
  REQUIRE(at.size() >= 2);
  CHECK(at[1] <= 300ms);
  CHECK(sim.fsm().delivered());
}

TEST_CASE("flush_delay: a lone line waits at most flush_delay, 16 KiB go at once") {
  auto cfg = test::quick_timers();
  cfg.flush_delay = 50ms;
  delivery_sim sim(cfg);
  sim.add_lines(test::numbered_lines(0, 1));
  sim.add_lines(test::numbered_lines(1, 1), 20ms);
  sim.add_lines(test::numbered_lines(2, 1000), 200ms);  // > 16 KiB
  sim.run(300ms);
  const auto writes = times_of<action::write>(sim);
  REQUIRE(writes.size() >= 2);
  CHECK(writes[0] == 51ms);  // both lines, 50 ms after the connection found the first
  CHECK(writes[1] == 200ms);
  CHECK(stored_times(sim, 0, 1002, 1));
}

TEST_CASE("dead peer: a write that keeps making progress, slowly, past stall_timeout is no stall") {
  auto cfg = test::quick_timers();
  cfg.stall_timeout = 1s;
  cfg.user_timeout = 30s;
  // 1 KiB acknowledged every 500 ms: a 12 KB batch takes 6 s, well past the
  // stall timeout counted from its start, but never 1 s without progress.
  delivery_sim sim(cfg, 1, 1 << 20, 1024, 500ms);
  sim.add_lines(test::numbered_lines(0, 500));
  sim.finish(10ms, 30s);
  sim.run();
  CHECK(since_start(sim.now()) > 5s);
  CHECK(sim.fsm().stats().disconnects[disconnect_cause::stalled] == 0);
  CHECK(sim.connections(0) == 1);
  CHECK(sim.fsm().delivered());
  CHECK(stored_times(sim, 0, 500, 1));
}

TEST_CASE("finish: an acknowledgement count the kernel cannot give is never taken as delivered") {
  delivery_sim sim(test::quick_timers());
  sim.add_lines(test::numbered_lines(0, 10));
  sim.at(500ms, [&] { sim.blind_kernel(); });  // all was acknowledged, but who can tell
  sim.finish(1s, 5s);
  sim.run();
  REQUIRE(sim.fsm().done());
  CHECK(stored_times(sim, 0, 10, 1));
  CHECK_FALSE(sim.fsm().delivered());
}

TEST_CASE("reports: each reason in the words the log shows") {
  const std::vector<std::string> one = {"10.0.0.1:2003"};
  const std::vector<std::string> two = {"10.0.0.1:2003", "carbon:2004"};
  using namespace std::chrono_literals;
  struct row {
    delivery_report what;
    const std::vector<std::string>& destinations;
    std::string_view text;
    report_level level;
  };
  const row rows[] = {
      {report::connected{0, ""}, one, "connected to carbon at 10.0.0.1:2003", report_level::info},
      {report::connected{1, "10.0.0.9"}, two, "connected to carbon at carbon:2004 (10.0.0.9)",
       report_level::info},
      {report::reconnected{0, "", 7, 12340ms, 42}, one,
       "connected to carbon at 10.0.0.1:2003 after 7 failed attempts (12.3 s); 42 lines buffered",
       report_level::info},
      {report::cannot_connect{{{0, "Connection refused"}}}, one,
       "cannot connect to carbon at 10.0.0.1:2003: Connection refused; buffering and retrying",
       report_level::warn},
      {report::cannot_connect{{{0, "Connection refused"}, {1, "timed out"}}}, two,
       "cannot connect to carbon at 10.0.0.1:2003, carbon:2004: 10.0.0.1:2003: Connection "
       "refused; carbon:2004: timed out; buffering and retrying",
       report_level::warn},
      {report::next_attempt{250ms}, one, "next connection attempt in 250 ms", report_level::debug},
      {report::move_failed{1, 0, "Connection refused"}, two,
       "staying on carbon:2004: 10.0.0.1:2003 still fails: Connection refused",
       report_level::debug},
      {report::moved{1, 0, move_reason::fail_back}, two,
       "moved the connection from carbon:2004 to 10.0.0.1:2003 (fail-back), the old one drained "
       "first",
       report_level::info},
      {report::moved{0, 0, move_reason::reconnect_interval}, one,
       "moved the connection from 10.0.0.1:2003 to 10.0.0.1:2003 (reconnect_interval), the old "
       "one drained first",
       report_level::info},
      {report::lost{0, {disconnect_cause::closed_by_peer, loss_noticed::by_read}}, one,
       "connection to carbon at 10.0.0.1:2003 lost: closed by peer; buffering and reconnecting",
       report_level::warn},
      {report::lost{0,
                    {disconnect_cause::reset, loss_noticed::by_read, "Connection reset by peer"}},
       one,
       "connection to carbon at 10.0.0.1:2003 lost: Connection reset by peer; buffering and "
       "reconnecting",
       report_level::warn},
      {report::lost{0, {disconnect_cause::reset, loss_noticed::by_write, "Broken pipe"}}, one,
       "connection to carbon at 10.0.0.1:2003 lost: write failed: Broken pipe; buffering and "
       "reconnecting",
       report_level::warn},
      {report::lost{0,
                    {.cause = disconnect_cause::stalled,
                     .how = loss_noticed::by_stall_timer,
                     .limit = 30000ms}},
       one,
       "connection to carbon at 10.0.0.1:2003 lost: stalled: no write progress for 30000 ms; "
       "buffering and reconnecting",
       report_level::warn},
      {report::lost{0,
                    {.cause = disconnect_cause::timed_out,
                     .how = loss_noticed::by_ack_check,
                     .unacked = 940,
                     .waited = 2000ms,
                     .limit = 2000ms}},
       one,
       "connection to carbon at 10.0.0.1:2003 lost: timed out: 940 bytes written 2000 ms ago "
       "were never acknowledged (user_timeout 2000 ms); buffering and reconnecting",
       report_level::warn},
      {report::replaying{10, 340}, one,
       "re-sending 10 lines (340 bytes) the peer may not have stored", report_level::info},
      {report::replay_truncated{4096}, one,
       "4096 bytes or more to re-send were older than the history kept; they are lost",
       report_level::warn},
      {report::undelivered{10}, two,
       "10 lines could not be delivered to 10.0.0.1:2003, carbon:2004 before the deadline",
       report_level::warn},
  };
  for (const auto& r : rows) {
    CHECK(describe(r.what, r.destinations) == r.text);
    CHECK(level_of(r.what) == r.level);
  }
}
