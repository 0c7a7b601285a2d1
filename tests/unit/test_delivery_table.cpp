// Every phase of the delivery machine, every event: the actions that come
// back and the phase after. Each phase is reached by a short scripted run of
// the simulation; then one event is fed by hand. Actions are written as
// tokens: connect:D, watch, write, snapshot, fin, close, close! (a reset if
// bytes are unacknowledged),
// arm:TIMER, cancel:TIMER, warn/info/debug (reports), done. `cancel:*` is
// all seven timers at the end of a run, `cancel:5` the five of a
// connection. The phase is the one right after the event, before the shell
// answers a snapshot or a close. Set SOCKPUSH_PRINT_TABLE=1 to print what a
// phase does now.
#include <doctest/doctest.h>

#include <cstdlib>
#include <functional>
#include <iostream>

#include "sockpush/common/overloaded.hpp"
#include "unit/delivery_sim.hpp"

using namespace sockpush;
using namespace std::chrono_literals;
using test::delivery_sim;
using test::fault;

namespace {

constexpr const char* timer_names[] = {"retry", "flush", "stall",   "ack",
                                       "move",  "poll",  "deadline"};

std::string token(const delivery_action& a) {
  namespace act = sockpush::action;
  return std::visit(
      overloaded{
          [](const act::connect& c) { return "connect:" + std::to_string(c.destination); },
          [](const act::watch&) { return std::string("watch"); },
          [](const act::write&) { return std::string("write"); },
          [](const act::snapshot&) { return std::string("snapshot"); },
          [](const act::shutdown_send&) { return std::string("fin"); },
          [](const act::close& c) {
            return std::string(c.mode == close_mode::reset_if_unacked ? "close!" : "close");
          },
          [](const act::arm_timer& t) {
            return std::string("arm:") + timer_names[static_cast<int>(t.timer)];
          },
          [](const act::cancel_timer& t) {
            return std::string("cancel:") + timer_names[static_cast<int>(t.timer)];
          },
          [](const act::log& l) {
            const auto level = level_of(l.what);
            return std::string(level == report_level::warn   ? "warn"
                               : level == report_level::info ? "info"
                                                             : "debug");
          },
          [](const act::done&) { return std::string("done"); },
      },
      a.what);
}

/// The tokens, with the usual runs of cancels folded.
std::string tokens(const std::vector<delivery_action>& actions) {
  std::string out;
  for (const auto& a : actions) out += (out.empty() ? "" : " ") + token(a);
  auto fold = [&out](const std::string& run, const std::string& as) {
    for (auto at = out.find(run); at != std::string::npos; at = out.find(run))
      out.replace(at, run.size(), as);
  };
  fold("cancel:retry cancel:flush cancel:stall cancel:ack cancel:move cancel:poll cancel:deadline",
       "cancel:*");
  fold("cancel:stall cancel:ack cancel:move cancel:flush cancel:poll", "cancel:5");
  return out;
}

carbon_config table_config() {
  auto cfg = test::quick_timers();
  cfg.reconnect_max = 100ms;
  cfg.reconnect_interval = 10s;
  return cfg;
}

/// A simulation brought to one phase.
struct setup {
  const char* phase;
  std::function<void(delivery_sim&)> reach;
};

const setup setups[] = {
    {"idle", [](delivery_sim&) {}},
    {"connecting", [](delivery_sim& sim) { sim.feed(delivery_event::start()); }},
    {"backing_off",
     [](delivery_sim& sim) {
       sim.set_reachable(0, false);
       sim.feed(delivery_event::start());
       sim.run(5ms);
     }},
    {"connected",
     [](delivery_sim& sim) {
       sim.feed(delivery_event::start());
       sim.run(5ms);
     }},
    {"writing",
     [](delivery_sim& sim) {
       sim.feed(delivery_event::start());
       sim.run(5ms);
       sim.buffer().push(test::numbered_lines(0, 10));
       sim.feed(delivery_event::wake());
     }},
    {"moving",
     [](delivery_sim& sim) {
       sim.feed(delivery_event::start());
       sim.run(10001ms);  // the reconnect_interval move starts at 10.001 s
     }},
    {"draining_move",
     [](delivery_sim& sim) {
       sim.feed(delivery_event::start());
       sim.at(10000ms, [&sim] { sim.peer_fault(0, fault::silence); });
       sim.add_lines(test::numbered_lines(0, 10), 10000ms);  // never acknowledged
       sim.run(10002ms);
     }},
    {"final_drain",
     [](delivery_sim& sim) {
       sim.feed(delivery_event::start());
       sim.run(5ms);
       sim.peer_fault(0, fault::silence);
       sim.add_lines(test::numbered_lines(0, 10));
       sim.finish(1ms, 5s);
       sim.run(2ms);
     }},
    {"closing",
     [](delivery_sim& sim) {
       sim.feed(delivery_event::start());
       sim.run(5ms);
       sim.peer_fault(0, fault::silence);
       sim.buffer().push(test::numbered_lines(0, 4000));  // more than the send buffer
       sim.feed(delivery_event::wake());
       sim.run(1ms);
       sim.feed(delivery_event::fired(delivery_timer::stall));  // the write never completes
     }},
    {"done",
     [](delivery_sim& sim) {
       sim.feed(delivery_event::finish(sim.now() + 1s));
       sim.feed(delivery_event::start());
     }},
};

/// The events fed in each phase; links are the machine's own (live,
/// writing, closing) or one it never made (stale).
struct stimulus {
  const char* name;
  std::function<delivery_event(delivery_sim&)> make;
};

/// A link the machine has in that role, or 0, which it never uses.
link_id live(delivery_sim& sim) {
  return sim.fsm().links().live.value_or(0);
}

const stimulus stimuli[] = {
    {"start", [](delivery_sim&) { return delivery_event::start(); }},
    {"wake",
     [](delivery_sim& sim) {
       sim.buffer().push(test::numbered_lines(100, 5));
       return delivery_event::wake();
     }},
    {"finish", [](delivery_sim& sim) { return delivery_event::finish(sim.now() + 5s); }},
    {"connected", [](delivery_sim& sim) { return delivery_event::connected(live(sim), "x"); }},
    {"connected spare",
     [](delivery_sim& sim) {
       return delivery_event::connected(sim.fsm().links().spare.value_or(0), "x");
     }},
    {"connected stale", [](delivery_sim&) { return delivery_event::connected(999, "x"); }},
    {"connect_failed",
     [](delivery_sim& sim) { return delivery_event::connect_failed(live(sim), "refused"); }},
    {"connect_failed spare",
     [](delivery_sim& sim) {
       return delivery_event::connect_failed(sim.fsm().links().spare.value_or(0), "refused");
     }},
    {"wrote all",
     [](delivery_sim& sim) {
       return delivery_event::wrote(sim.fsm().links().writing.value_or(0), 1 << 20);
     }},
    {"wrote reset",
     [](delivery_sim& sim) {
       return delivery_event::wrote(sim.fsm().links().writing.value_or(0), 0, link_error::reset,
                                    "reset");
     }},
    {"peer_closed fin",
     [](delivery_sim& sim) { return delivery_event::peer_closed(live(sim), link_error::closed); }},
    {"peer_closed reset",
     [](delivery_sim& sim) {
       return delivery_event::peer_closed(live(sim), link_error::reset, "reset");
     }},
    {"timer retry", [](delivery_sim&) { return delivery_event::fired(delivery_timer::retry); }},
    {"timer flush", [](delivery_sim&) { return delivery_event::fired(delivery_timer::flush); }},
    {"timer stall", [](delivery_sim&) { return delivery_event::fired(delivery_timer::stall); }},
    {"timer ack", [](delivery_sim&) { return delivery_event::fired(delivery_timer::ack); }},
    {"timer move", [](delivery_sim&) { return delivery_event::fired(delivery_timer::move); }},
    {"timer poll", [](delivery_sim&) { return delivery_event::fired(delivery_timer::poll); }},
    {"timer deadline",
     [](delivery_sim&) { return delivery_event::fired(delivery_timer::deadline); }},
    {"snapshot 0",
     [](delivery_sim& sim) {
       return delivery_event::ack_snapshot(live(sim), snapshot_purpose::drain, 0, {});
     }},
    {"snapshot 100 old",
     [](delivery_sim& sim) {
       return delivery_event::ack_snapshot(live(sim), snapshot_purpose::drain, 100,
                                           delivery_sim::epoch() - 1h);
     }},
    {"closed",
     [](delivery_sim& sim) {
       return delivery_event::closed(sim.fsm().links().retiring.value_or(0), 0);
     }},
};

struct row {
  const char* event;
  const char* actions;
  const char* next;
};

/// Feeds every stimulus to a fresh simulation in `phase` and compares.
void check_phase(const char* phase, const std::vector<row>& expected) {
  const setup* s = nullptr;
  for (const auto& candidate : setups)
    if (std::string_view(candidate.phase) == phase) s = &candidate;
  REQUIRE(s);
  const bool print = std::getenv("SOCKPUSH_PRINT_TABLE") != nullptr;
  if (print) std::cout << "  const std::vector<row> rows = {  // " << phase << "\n";
  if (!print) REQUIRE(expected.size() == std::size(stimuli));
  for (std::size_t i = 0; i < std::size(stimuli); ++i) {
    delivery_sim sim(table_config());
    s->reach(sim);
    REQUIRE(to_string(sim.fsm().phase()) == phase);
    const auto event = stimuli[i].make(sim);
    const auto got = tokens(sim.feed(event, false));
    const auto next = std::string(to_string(sim.fsm().phase()));
    if (print)
      std::cout << "      {\"" << stimuli[i].name << "\", \"" << got << "\", \"" << next
                << "\"},\n";
    if (print) continue;
    CAPTURE(phase);
    CAPTURE(stimuli[i].name);
    CHECK(std::string_view(expected[i].event) == stimuli[i].name);
    CHECK(got == expected[i].actions);
    CHECK(next == expected[i].next);
  }
  if (print) std::cout << "  };\n";
}

}  // namespace

TEST_CASE("table: idle") {
  const std::vector<row> rows = {
      {"start", "connect:0", "connecting"},
      {"wake", "", "idle"},
      {"finish", "arm:deadline cancel:move", "idle"},
      {"connected", "", "idle"},
      {"connected spare", "", "idle"},
      {"connected stale", "", "idle"},
      {"connect_failed", "", "idle"},
      {"connect_failed spare", "", "idle"},
      {"wrote all", "", "idle"},
      {"wrote reset", "", "idle"},
      {"peer_closed fin", "", "idle"},
      {"peer_closed reset", "", "idle"},
      {"timer retry", "", "idle"},
      {"timer flush", "", "idle"},
      {"timer stall", "", "idle"},
      {"timer ack", "", "idle"},
      {"timer move", "", "idle"},
      {"timer poll", "", "idle"},
      {"timer deadline", "", "idle"},
      {"snapshot 0", "", "idle"},
      {"snapshot 100 old", "", "idle"},
      {"closed", "", "idle"},
  };
  check_phase("idle", rows);
}

TEST_CASE("table: connecting") {
  const std::vector<row> rows = {
      {"start", "", "connecting"},
      {"wake", "", "connecting"},
      {"finish", "arm:deadline cancel:move", "connecting"},
      {"connected", "info cancel:ack watch arm:move", "connected"},
      {"connected spare", "", "connecting"},
      {"connected stale", "", "connecting"},
      {"connect_failed", "warn debug arm:retry", "backing_off"},
      {"connect_failed spare", "", "connecting"},
      {"wrote all", "", "connecting"},
      {"wrote reset", "", "connecting"},
      {"peer_closed fin", "", "connecting"},
      {"peer_closed reset", "", "connecting"},
      {"timer retry", "", "connecting"},
      {"timer flush", "", "connecting"},
      {"timer stall", "", "connecting"},
      {"timer ack", "", "connecting"},
      {"timer move", "", "connecting"},
      {"timer poll", "", "connecting"},
      {"timer deadline", "", "connecting"},
      {"snapshot 0", "", "connecting"},
      {"snapshot 100 old", "", "connecting"},
      {"closed", "", "connecting"},
  };
  check_phase("connecting", rows);
}

TEST_CASE("table: backing_off") {
  const std::vector<row> rows = {
      {"start", "", "backing_off"},
      {"wake", "", "backing_off"},
      {"finish", "arm:deadline cancel:move cancel:retry cancel:* done", "done"},
      {"connected", "", "backing_off"},
      {"connected spare", "", "backing_off"},
      {"connected stale", "", "backing_off"},
      {"connect_failed", "", "backing_off"},
      {"connect_failed spare", "", "backing_off"},
      {"wrote all", "", "backing_off"},
      {"wrote reset", "", "backing_off"},
      {"peer_closed fin", "", "backing_off"},
      {"peer_closed reset", "", "backing_off"},
      {"timer retry", "connect:0", "connecting"},
      {"timer flush", "", "backing_off"},
      {"timer stall", "", "backing_off"},
      {"timer ack", "", "backing_off"},
      {"timer move", "", "backing_off"},
      {"timer poll", "", "backing_off"},
      {"timer deadline", "", "backing_off"},
      {"snapshot 0", "", "backing_off"},
      {"snapshot 100 old", "", "backing_off"},
      {"closed", "", "backing_off"},
  };
  check_phase("backing_off", rows);
}

TEST_CASE("table: connected") {
  const std::vector<row> rows = {
      {"start", "", "connected"},
      {"wake", "arm:stall write", "writing"},
      {"finish", "arm:deadline cancel:move snapshot", "final_drain"},
      {"connected", "", "connected"},
      {"connected spare", "", "connected"},
      {"connected stale", "", "connected"},
      {"connect_failed", "", "connected"},
      {"connect_failed spare", "", "connected"},
      {"wrote all", "", "connected"},
      {"wrote reset", "", "connected"},
      {"peer_closed fin", "cancel:5 close", "closing"},
      {"peer_closed reset", "cancel:5 close", "closing"},
      {"timer retry", "", "connected"},
      {"timer flush", "", "connected"},
      {"timer stall", "", "connected"},
      {"timer ack", "snapshot", "connected"},
      {"timer move", "connect:0", "moving"},
      {"timer poll", "", "connected"},
      {"timer deadline", "", "connected"},
      {"snapshot 0", "", "connected"},
      {"snapshot 100 old", "", "connected"},
      {"closed", "", "connected"},
  };
  check_phase("connected", rows);
}

TEST_CASE("table: writing") {
  const std::vector<row> rows = {
      {"start", "", "writing"},
      {"wake", "", "writing"},
      {"finish", "arm:deadline cancel:move", "writing"},
      {"connected", "", "writing"},
      {"connected spare", "", "writing"},
      {"connected stale", "", "writing"},
      {"connect_failed", "", "writing"},
      {"connect_failed spare", "", "writing"},
      {"wrote all", "arm:ack cancel:stall", "connected"},
      {"wrote reset", "cancel:5 close", "closing"},
      {"peer_closed fin", "cancel:5 close", "closing"},
      {"peer_closed reset", "cancel:5 close", "closing"},
      {"timer retry", "", "writing"},
      {"timer flush", "", "writing"},
      {"timer stall", "cancel:5 close", "closing"},
      {"timer ack", "snapshot", "writing"},
      {"timer move", "", "writing"},
      {"timer poll", "", "writing"},
      {"timer deadline", "", "writing"},
      {"snapshot 0", "", "writing"},
      {"snapshot 100 old", "", "writing"},
      {"closed", "", "writing"},
  };
  check_phase("writing", rows);
}

TEST_CASE("table: moving") {
  const std::vector<row> rows = {
      {"start", "", "moving"},
      {"wake", "", "moving"},
      {"finish", "arm:deadline cancel:move", "moving"},
      {"connected", "", "moving"},
      {"connected spare", "cancel:ack fin snapshot", "draining_move"},
      {"connected stale", "", "moving"},
      {"connect_failed", "", "moving"},
      {"connect_failed spare", "debug arm:move", "connected"},
      {"wrote all", "", "moving"},
      {"wrote reset", "", "moving"},
      {"peer_closed fin", "close cancel:5 close", "closing"},
      {"peer_closed reset", "close cancel:5 close", "closing"},
      {"timer retry", "", "moving"},
      {"timer flush", "", "moving"},
      {"timer stall", "", "moving"},
      {"timer ack", "snapshot", "moving"},
      {"timer move", "", "moving"},
      {"timer poll", "", "moving"},
      {"timer deadline", "", "moving"},
      {"snapshot 0", "", "moving"},
      {"snapshot 100 old", "", "moving"},
      {"closed", "", "moving"},
  };
  check_phase("moving", rows);
}

TEST_CASE("table: draining_move") {
  const std::vector<row> rows = {
      {"start", "", "draining_move"},
      {"wake", "", "draining_move"},
      {"finish", "arm:deadline cancel:move", "draining_move"},
      {"connected", "", "draining_move"},
      {"connected spare", "", "draining_move"},
      {"connected stale", "", "draining_move"},
      {"connect_failed", "", "draining_move"},
      {"connect_failed spare", "", "draining_move"},
      {"wrote all", "", "draining_move"},
      {"wrote reset", "", "draining_move"},
      {"peer_closed fin", "", "draining_move"},
      {"peer_closed reset", "", "draining_move"},
      {"timer retry", "", "draining_move"},
      {"timer flush", "", "draining_move"},
      {"timer stall", "", "draining_move"},
      {"timer ack", "", "draining_move"},
      {"timer move", "", "draining_move"},
      {"timer poll", "snapshot", "draining_move"},
      {"timer deadline", "", "draining_move"},
      {"snapshot 0", "close!", "draining_move"},
      {"snapshot 100 old", "arm:poll", "draining_move"},
      {"closed", "", "draining_move"},
  };
  check_phase("draining_move", rows);
}

TEST_CASE("table: final_drain") {
  const std::vector<row> rows = {
      {"start", "", "final_drain"},
      {"wake", "", "final_drain"},
      {"finish", "arm:deadline cancel:move", "final_drain"},
      {"connected", "", "final_drain"},
      {"connected spare", "", "final_drain"},
      {"connected stale", "", "final_drain"},
      {"connect_failed", "", "final_drain"},
      {"connect_failed spare", "", "final_drain"},
      {"wrote all", "", "final_drain"},
      {"wrote reset", "", "final_drain"},
      {"peer_closed fin", "cancel:5 close", "closing"},
      {"peer_closed reset", "cancel:5 close", "closing"},
      {"timer retry", "", "final_drain"},
      {"timer flush", "", "final_drain"},
      {"timer stall", "", "final_drain"},
      {"timer ack", "snapshot", "final_drain"},
      {"timer move", "", "final_drain"},
      {"timer poll", "snapshot", "final_drain"},
      {"timer deadline", "cancel:5 fin close!", "closing"},
      {"snapshot 0", "cancel:5 fin close!", "closing"},
      {"snapshot 100 old", "arm:poll", "final_drain"},
      {"closed", "", "final_drain"},
  };
  check_phase("final_drain", rows);
}

TEST_CASE("table: closing") {
  const std::vector<row> rows = {
      {"start", "", "closing"},
      {"wake", "", "closing"},
      {"finish", "arm:deadline cancel:move", "closing"},
      {"connected", "", "closing"},
      {"connected spare", "", "closing"},
      {"connected stale", "", "closing"},
      {"connect_failed", "", "closing"},
      {"connect_failed spare", "", "closing"},
      {"wrote all", "warn info debug arm:retry", "backing_off"},
      {"wrote reset", "warn info debug arm:retry", "backing_off"},
      {"peer_closed fin", "", "closing"},
      {"peer_closed reset", "", "closing"},
      {"timer retry", "", "closing"},
      {"timer flush", "", "closing"},
      {"timer stall", "", "closing"},
      {"timer ack", "", "closing"},
      {"timer move", "", "closing"},
      {"timer poll", "", "closing"},
      {"timer deadline", "", "closing"},
      {"snapshot 0", "", "closing"},
      {"snapshot 100 old", "", "closing"},
      {"closed", "", "closing"},
  };
  check_phase("closing", rows);
}

TEST_CASE("table: done") {
  const std::vector<row> rows = {
      {"start", "", "done"},
      {"wake", "", "done"},
      {"finish", "", "done"},
      {"connected", "", "done"},
      {"connected spare", "", "done"},
      {"connected stale", "", "done"},
      {"connect_failed", "", "done"},
      {"connect_failed spare", "", "done"},
      {"wrote all", "", "done"},
      {"wrote reset", "", "done"},
      {"peer_closed fin", "", "done"},
      {"peer_closed reset", "", "done"},
      {"timer retry", "", "done"},
      {"timer flush", "", "done"},
      {"timer stall", "", "done"},
      {"timer ack", "", "done"},
      {"timer move", "", "done"},
      {"timer poll", "", "done"},
      {"timer deadline", "", "done"},
      {"snapshot 0", "", "done"},
      {"snapshot 100 old", "", "done"},
      {"closed", "", "done"},
  };
  check_phase("done", rows);
}
