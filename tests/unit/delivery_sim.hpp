// delivery_fsm driven with no socket and no clock: a discrete-event
// simulation of what the I/O shell, the kernel and carbon would do. Time is
// a counter; every outcome (a connect, a write, an acknowledgement) happens
// at a planned moment, in order, so a run is repeatable to the event.
//
// The simulated peer stores a line once its TCP acknowledged all of it on
// one connection (carbon ignores a torn fragment); what was never
// acknowledged when a connection ends never arrives. A fault can be
// injected at outcome number k: a connect refused, a write reset, or, at an
// acknowledgement, the peer closing, resetting or falling silent.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/carbon/delivery_fsm.hpp"

namespace test {

using sockpush::delivery_action;
using sockpush::delivery_event;
using sockpush::delivery_fsm;
using sockpush::delivery_phase;
using sockpush::delivery_report;
using sockpush::delivery_timer;
using sockpush::link_error;
using sockpush::link_id;

/// An action as the simulated shell carried it out, and when.
struct timed_action {
  std::chrono::steady_clock::time_point when;
  delivery_action action;
};

/// What is injected at the chosen outcome. At a connect it is always
/// `refuse`, at a write always `reset`; at an acknowledgement, as asked.
enum class fault { none, refuse, close, reset, silence };

class delivery_sim {
 public:
  using clock = std::chrono::steady_clock;
  using duration = clock::duration;

  /// `destinations` destinations "10.0.0.N:2003"; a kernel send buffer of
  /// `send_capacity` bytes; `rtt` from a write to its acknowledgement.
  delivery_sim(const sockpush::carbon_config& cfg, std::size_t destinations = 1,
               std::size_t buffer_bytes = 1 << 20, std::size_t send_capacity = 64 * 1024,
               duration rtt = std::chrono::milliseconds(2));

  /// Time zero of every run (a steady_clock value far from 0).
  static clock::time_point epoch();
  clock::time_point now() const { return now_; }

  // What the test scripts.
  /// Adds lines to the buffer `after` from now, then wakes the machine.
  void add_lines(std::string lines, duration after = {});
  /// Asks the machine to finish, deliver by `deadline_after` from then.
  void finish(duration after, duration deadline_after);
  /// Destination `d` refuses connections (or accepts them again).
  void set_reachable(std::size_t d, bool reachable);
  /// The kernel answers snapshots and closes with "cannot tell" from now on.
  void blind_kernel() { blind_ = true; }
  /// At outcome number `k` (1-based; 0: never), `what` happens instead.
  void inject(std::size_t k, fault what);
  /// Runs `what` at `after` from now (a scripted peer action).
  void at(duration after, std::function<void()> what);
  /// The live connection to `d` ends as `what` says, now.
  void peer_fault(std::size_t d, fault what);

  /// Starts the machine if it is idle, then processes planned happenings in
  /// time order until it is done, nothing is planned, or `limit` from now
  /// passes.
  void run(duration limit = std::chrono::minutes(10));

  /// Feeds one event now and carries out what comes back (tests that drive
  /// the machine by hand); returns the actions. What the shell would feed
  /// back at once (snapshots, closes) follows, unless `answers` is false.
  std::vector<delivery_action> feed(const delivery_event& e, bool answers = true);

  // What the test observes.
  delivery_fsm& fsm() { return fsm_; }
  sockpush::line_buffer& buffer() { return buffer_; }
  /// Lines the peer stored, each as often as it was stored.
  const std::map<std::string, int>& stored() const { return stored_; }
  /// Every action carried out, in order.
  const std::vector<timed_action>& actions() const { return log_; }
  /// The reports of kind `Report` (sockpush::report::...), in order.
  template <typename Report>
  std::vector<Report> reports() const {
    std::vector<Report> all;
    for (const auto& [when, a] : log_)
      if (const auto* r = logged<Report>(a)) all.push_back(*r);
    return all;
  }
  /// When the first report of kind `Report` was made.
  template <typename Report>
  std::optional<clock::time_point> when_reported() const {
    for (const auto& [when, a] : log_)
      if (logged<Report>(a)) return when;
    return std::nullopt;
  }
  /// Outcomes (connect results, write completions, acknowledgements) so far.
  std::size_t outcomes() const { return outcomes_; }
  /// Connections made to destination `d`.
  std::size_t connections(std::size_t d) const;
  /// When the injected fault happened, and what it was, if it did.
  std::optional<clock::time_point> fault_time() const { return fault_at_; }
  fault injected() const { return fault_happened_; }
  /// When each line was written (by its text), every time, for replay rules.
  const std::map<std::string, std::vector<clock::time_point>>& writes() const { return writes_; }

 private:
  struct link {
    link_id id = 0;
    std::size_t destination = 0;
    bool connected = false, open = true, watched = false, dead = false, silent = false;
    bool fin_sent = false;
    std::string written;            ///< every byte the kernel took, in order
    std::size_t acked = 0;          ///< bytes of `written` acknowledged (and read by the peer)
    std::size_t lines_written = 0;  ///< `written` up to here holds whole lines
    std::optional<clock::time_point> last_ack;
    std::string blocked;  ///< a write waiting for room in the send buffer
    bool write_pending = false;
  };
  struct happening {
    clock::time_point at;
    std::uint64_t seq;
    std::function<void()> what;
    bool operator>(const happening& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  template <typename Report>
  static const Report* logged(const delivery_action& a) {
    const auto* log = std::get_if<sockpush::action::log>(&a.what);
    return log ? std::get_if<Report>(&log->what) : nullptr;
  }
  void plan(clock::time_point at, std::function<void()> what);
  /// What the kernel says `l` holds unacknowledged.
  sockpush::unacked_bytes unacked(const link* l) const;
  void deliver(const delivery_event& e);
  void drain();
  void perform(const delivery_action& a);
  bool next_outcome_is_fault(fault& what);
  void connect(link_id id, std::size_t d);
  void write(link_id id, std::string_view data);
  void try_blocked_write(link& l);
  void acknowledge(link_id id, std::size_t upto);
  void store_received(link& l, std::size_t from, std::size_t to);
  void kill(link& l, fault what);
  link* find(link_id id);

  sockpush::carbon_config cfg_;
  sockpush::line_buffer buffer_;
  delivery_fsm fsm_;
  std::size_t capacity_;
  duration rtt_;
  clock::time_point now_;
  std::uint64_t seq_ = 0;
  std::priority_queue<happening, std::vector<happening>, std::greater<>> planned_;
  std::vector<std::unique_ptr<link>> links_;
  std::vector<bool> reachable_;
  std::vector<std::size_t> connections_;
  std::array<std::uint64_t, sockpush::delivery_timer_count> timer_generation_{};
  std::array<bool, sockpush::delivery_timer_count> timer_armed_{};
  bool blind_ = false;
  std::vector<delivery_event> synchronous_;
  bool feeding_ = false;
  std::vector<timed_action> log_;
  std::map<std::string, int> stored_;
  std::map<std::string, std::vector<clock::time_point>> writes_;
  std::size_t outcomes_ = 0;
  std::size_t fault_step_ = 0;
  fault fault_kind_ = fault::none;
  fault fault_happened_ = fault::none;
  std::optional<clock::time_point> fault_at_;
};

/// Timers a simulated run gets through quickly: user_timeout 2 s,
/// stall_timeout 3 s, backoff 100-400 ms, hold_down 2 s, no peer-close replay.
sockpush::carbon_config quick_timers();

/// "sweep.N 1 1700000000\n" for N in [first, first + count).
std::string numbered_lines(std::size_t first, std::size_t count);

}  // namespace test
