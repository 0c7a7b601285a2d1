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
    if (a.what == delivery_action::kind::connect) all.push_back(a.destination);
  return all;
}

/// When each action of `kind` was carried out.
std::vector<delivery_sim::duration> times_of(const delivery_sim& sim, delivery_action::kind kind) {
  std::vector<delivery_sim::duration> all;
  for (const auto& [when, a] : sim.actions())
    if (a.what == kind) all.push_back(since_start(when));
  return all;
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
  CHECK(sim.reported("connected to carbon at 10.0.0.1:2003") == 1);
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
  const auto at = times_of(sim, delivery_action::kind::connect);
  CHECK(at[2] - at[1] <= 100ms + 1ms);
  CHECK(at[4] - at[3] <= 200ms + 1ms);
  CHECK(sim.reported("cannot connect to carbon at 10.0.0.1:2003, 10.0.0.2:2003") == 1);
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
  CHECK(times_of(sim, delivery_action::kind::connect).at(3) == 2001ms);
  CHECK(times_of(sim, delivery_action::kind::connect).at(4) == 2500ms);
  CHECK(sim.reported("still fails") == 1);
  CHECK(sim.reported("moved the connection from 10.0.0.3:2003 to 10.0.0.2:2003 (fail-back)") == 1);
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
  const auto fin = times_of(sim, delivery_action::kind::shutdown_send);
  const auto closes = times_of(sim, delivery_action::kind::close);
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
  CHECK(sim.reported("cannot connect") == 1);
  CHECK(sim.reported("failed attempts") == 1);
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
    CHECK(sim.fsm().stats().closed_by_peer == (what == fault::close ? 1u : 0u));
    CHECK(sim.fsm().stats().reset == (what == fault::reset ? 1u : 0u));
    CHECK(sim.reported(what == fault::close ? "lost: closed by peer" : "lost: Connection reset") ==
          1);
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
  const auto dropped = sim.when_reported("were never acknowledged (user_timeout 2000 ms)");
  REQUIRE(dropped);
  CHECK(since_start(*dropped) == 3500ms);
  CHECK(sim.reported("written 2000 ms ago") == 1);
  CHECK(sim.fsm().stats().timed_out == 1);
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
  CHECK(sim.fsm().stats().timed_out == 0);
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
  const auto stalled = sim.when_reported("stalled: no write progress for 1000 ms");
  REQUIRE(stalled);
  CHECK(since_start(*stalled) == 1001ms);
  CHECK(sim.fsm().stats().stalled == 1);
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
  CHECK(sim.reported("re-sending 10 lines") == 1);
  CHECK(stored_times(sim, 0, 20, 1));
  CHECK(sim.fsm().delivered());
}

TEST_CASE("replay: replay_seconds re-sends from the first write at or after failure - window") {
  auto cfg = test::quick_timers();
  cfg.replay_window = 1s;
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
    "replay: peer_close_replay re-sends the last seconds after the peer's FIN, not a timeout") {
  auto cfg = test::quick_timers();
  cfg.peer_close_replay = 1s;
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
  cfg.replay_window = 10s;
  delivery_sim sim(cfg, 1, 8192);
  for (int r = 0; r < 10; ++r)  // 24 KB
    sim.add_lines(test::numbered_lines(static_cast<std::size_t>(r) * 100, 100), r * 50ms);
  sim.at(1s, [&] { sim.peer_fault(0, fault::reset); });
  sim.run(2s);
  CHECK(sim.reported("older than the history kept; they are lost") == 1);
  CHECK(sim.fsm().stats().replayed_lines > 0);
  CHECK(sim.fsm().stats().replayed_lines < 1000);
}

TEST_CASE("finish: the drain waits for every acknowledgement before it closes") {
  delivery_sim sim(test::quick_timers(), 1, 1 << 20, 64 * 1024, 300ms);
  sim.add_lines(test::numbered_lines(0, 10));
  sim.finish(10ms, 5s);
  sim.run();
  const auto closes = times_of(sim, delivery_action::kind::close);
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
  CHECK(sim.reported("10 lines could not be delivered") == 1);
}

TEST_CASE("finish: a connection lost during the drain is made again, the lines re-sent") {
  auto cfg = test::quick_timers();
  cfg.user_timeout = 1s;
  delivery_sim sim(cfg);
  sim.add_lines(test::numbered_lines(0, 10));
  sim.at(1ms + 1us, [&] { sim.peer_fault(0, fault::silence); });
  sim.finish(10ms, 5s);
  sim.run();
  CHECK(sim.fsm().stats().timed_out == 1);
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
  const auto at = times_of(sim, delivery_action::kind::connect);
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
  const auto writes = times_of(sim, delivery_action::kind::write);
  REQUIRE(writes.size() >= 2);
  CHECK(writes[0] == 51ms);  // both lines, 50 ms after the connection found the first
  CHECK(writes[1] == 200ms);
  CHECK(stored_times(sim, 0, 1002, 1));
}
