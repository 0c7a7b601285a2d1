// The delivery state machine: events in, connecting, failover and moves.
// Writing, dead connections, drains and replay: delivery_fsm_delivery.cpp.
#include "sockpush/carbon/delivery_fsm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace sockpush {
namespace {

using namespace std::chrono_literals;

/// A move waits at most this long (and at most stall_timeout) for the old
/// connection's acknowledgements before closing it.
constexpr auto move_drain_limit = 5s;

double seconds_between(delivery_fsm::clock::time_point from, delivery_fsm::clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

std::string_view to_string(delivery_phase phase) {
  static constexpr std::string_view names[] = {
      "idle",   "connecting",    "backing_off", "connected", "writing",
      "moving", "draining_move", "final_drain", "closing",   "done"};
  return names[static_cast<std::size_t>(phase)];
}

delivery_event delivery_event::finish(clock::time_point deadline) {
  delivery_event e{kind::finish};
  e.at = deadline;
  return e;
}

delivery_event delivery_event::connected(link_id link, std::string peer) {
  delivery_event e{kind::connected, link};
  e.detail = std::move(peer);
  return e;
}

delivery_event delivery_event::connect_failed(link_id link, std::string why) {
  delivery_event e{kind::connect_failed, link};
  e.detail = std::move(why);
  return e;
}

delivery_event delivery_event::wrote(link_id link, std::size_t bytes, link_error error,
                                     std::string why) {
  delivery_event e{kind::wrote, link};
  e.bytes = bytes;
  e.error = error;
  e.detail = std::move(why);
  return e;
}

delivery_event delivery_event::peer_closed(link_id link, link_error error, std::string why) {
  delivery_event e{kind::peer_closed, link};
  e.error = error;
  e.detail = std::move(why);
  return e;
}

delivery_event delivery_event::fired(delivery_timer timer) {
  delivery_event e{kind::timer};
  e.timer = timer;
  return e;
}

delivery_event delivery_event::ack_snapshot(link_id link, int unacked,
                                            std::optional<clock::time_point> last_ack) {
  delivery_event e{kind::ack_snapshot, link};
  e.unacked = unacked;
  e.last_ack = last_ack;
  return e;
}

delivery_event delivery_event::closed(link_id link, int unacked) {
  delivery_event e{kind::closed, link};
  e.unacked = unacked;
  return e;
}

delivery_fsm::delivery_fsm(const carbon_config& cfg, std::vector<carbon_destination> destinations,
                           line_buffer& buffer, std::uint64_t seed)
    : cfg_(cfg),
      destinations_(std::move(destinations)),
      buffer_(buffer),
      order_(destinations_.size(), cfg.hold_down),
      backoff_(cfg.reconnect_min, cfg.reconnect_max, seed),
      // The kernel doubles SO_SNDBUF; the replay window may need up to a
      // buffer's worth more.
      history_(2 * cfg.send_buffer + (cfg.replay_window.count() > 0 ? buffer.max_bytes() : 0)),
      ever_connected_to_(destinations_.size()),
      destination_stats_(destinations_.size()) {
  if (destinations_.empty()) throw std::invalid_argument("delivery needs a destination");
  for (std::size_t i = 0; i < destinations_.size(); ++i)
    destination_stats_[i].name = destinations_[i].metric_name();
}

const std::vector<delivery_action>& delivery_fsm::on(const delivery_event& e,
                                                     clock::time_point now) {
  actions_.clear();
  if (phase_ == delivery_phase::done) return actions_;
  using kind = delivery_event::kind;
  switch (e.what) {
    case kind::start:
      on_start(now);
      break;
    case kind::wake:
      if (phase_ == delivery_phase::connected) pump(now);
      break;
    case kind::finish:
      on_finish(e.at, now);
      break;
    case kind::connected:
      on_connected(e, now);
      break;
    case kind::connect_failed:
      on_connect_failed(e, now);
      break;
    case kind::wrote:
      on_wrote(e, now);
      break;
    case kind::peer_closed:
      on_peer_closed(e, now);
      break;
    case kind::timer:
      on_timer(e.timer, now);
      break;
    case kind::ack_snapshot:
      on_ack_snapshot(e, now);
      break;
    case kind::closed:
      on_closed(e, now);
      break;
  }
  return actions_;
}

bool delivery_fsm::connected() const {
  switch (phase_) {
    case delivery_phase::connected:
    case delivery_phase::writing:
    case delivery_phase::moving:
    case delivery_phase::draining_move:
    case delivery_phase::final_drain:
      return true;
    default:
      return false;
  }
}

std::vector<destination_stats> delivery_fsm::destinations() const {
  auto all = destination_stats_;
  all[current_].connected = connected();
  return all;
}

void delivery_fsm::arm(delivery_timer timer, clock::time_point at) {
  delivery_action a{delivery_action::kind::arm_timer};
  a.timer = timer;
  a.at = at;
  emit(std::move(a));
}

void delivery_fsm::cancel(delivery_timer timer) {
  delivery_action a{delivery_action::kind::cancel_timer};
  a.timer = timer;
  emit(std::move(a));
}

void delivery_fsm::report(report_level level, std::string text) {
  delivery_action a{delivery_action::kind::report};
  a.level = level;
  a.text = std::move(text);
  emit(std::move(a));
}

void delivery_fsm::close_link(link_id link, bool discard) {
  delivery_action a{delivery_action::kind::close, link};
  a.discard = discard;
  emit(std::move(a));
}

std::string delivery_fsm::describe() const {
  std::string all;
  for (const auto& d : destinations_) all += (all.empty() ? "" : ", ") + d.to_string();
  return all;
}

void delivery_fsm::on_start(clock::time_point now) {
  if (phase_ == delivery_phase::idle) next_attempt(now);
}

void delivery_fsm::on_finish(clock::time_point deadline, clock::time_point now) {
  finishing_ = true;
  deadline_ = deadline;
  arm(delivery_timer::deadline, deadline);
  // No more moves: the connection there is drains and closes.
  move_due_ = false;
  cancel(delivery_timer::move);
  if (phase_ == delivery_phase::backing_off) {
    cancel(delivery_timer::retry);
    next_attempt(now);
  } else if (phase_ == delivery_phase::connected) {
    pump(now);
  }
}

void delivery_fsm::next_attempt(clock::time_point now) {
  if (finishing_ && (buffer_.empty() || now >= deadline_)) {
    end_without_connection();
    return;
  }
  connect_failures_.clear();
  connect_to(order_.first(now));
}

void delivery_fsm::connect_to(std::size_t destination) {
  current_ = destination;
  live_ = new_link();
  phase_ = delivery_phase::connecting;
  delivery_action a{delivery_action::kind::connect, live_};
  a.destination = destination;
  emit(std::move(a));
}

void delivery_fsm::on_connected(const delivery_event& e, clock::time_point now) {
  if (phase_ == delivery_phase::connecting && e.link == live_) {
    peer_address_ = e.detail;
    start_connection(now);
    pump(now);
  } else if (phase_ == delivery_phase::moving && e.link == spare_) {
    peer_address_ = e.detail;
    spare_connected(now);
  }
}

void delivery_fsm::on_connect_failed(const delivery_event& e, clock::time_point now) {
  if (phase_ == delivery_phase::moving && e.link == spare_) {
    spare_failed(e.detail, now);
    return;
  }
  if (phase_ != delivery_phase::connecting || e.link != live_) return;
  order_.failed(current_, now);
  const bool several = destinations_.size() > 1;
  connect_failures_ += (connect_failures_.empty() ? "" : "; ") +
                       (several ? destinations_[current_].to_string() + ": " : "") + e.detail;
  live_ = 0;
  if (auto next = order_.next_after(current_); next && !past_deadline(now)) {
    connect_to(*next);
    return;
  }
  // The whole round failed: reported once per outage (or when the reason
  // changes), not per attempt.
  if (!logged_down_ || connect_failures_ != last_failure_) {
    report(report_level::warn, fmt::format("cannot connect to carbon at {}: {}; buffering and "
                                           "retrying",
                                           describe(), connect_failures_));
    if (!logged_down_) down_since_ = now;
    logged_down_ = true;
    last_failure_ = connect_failures_;
  }
  retry_later(now);
}

void delivery_fsm::retry_later(clock::time_point now) {
  const auto delay = backoff_.next();
  report(report_level::debug, fmt::format("next connection attempt in {} ms", delay.count()));
  auto at = now + delay;
  // Only finishing cuts a pause short: new lines must not.
  if (finishing_) at = std::min(at, deadline_);
  if (at <= now) {
    next_attempt(now);
    return;
  }
  phase_ = delivery_phase::backing_off;
  arm(delivery_timer::retry, at);
}

void delivery_fsm::start_connection(clock::time_point now) {
  auto where = destinations_[current_].to_string();
  // The address a name resolved to: DNS changes show in the log.
  if (!peer_address_.empty() && peer_address_ != destinations_[current_].where.host)
    where += " (" + peer_address_ + ")";
  if (logged_down_)
    report(report_level::info,
           fmt::format("connected to carbon at {} after {} failed attempts ({:.1f} s); {} lines "
                       "buffered",
                       where, backoff_.attempts(), seconds_between(down_since_, now),
                       buffer_.lines()));
  else
    report(report_level::info, fmt::format("connected to carbon at {}", where));
  if (ever_connected_ || logged_down_) ++stats_.reconnects;
  if (ever_connected_to_[current_]) ++destination_stats_[current_].reconnects;
  ever_connected_ = true;
  ever_connected_to_[current_] = true;
  logged_down_ = false;
  last_failure_.clear();
  closed_by_peer_ = false;
  backoff_.reset();
  phase_ = delivery_phase::connected;
  move_due_ = false;
  connected_at_ = now;
  ack_timer_armed_ = false;
  cancel(delivery_timer::ack);
  emit(delivery_action{delivery_action::kind::watch, live_});
  arm_move_timer(now);
}

void delivery_fsm::arm_move_timer(clock::time_point now) {
  auto due = order_.fail_back_due(current_, now);
  if (cfg_.reconnect_interval.count() > 0) {
    const auto interval_due = connected_at_ + cfg_.reconnect_interval;
    due = due ? std::min(*due, interval_due) : interval_due;
  }
  if (due) arm(delivery_timer::move, *due);
}

bool delivery_fsm::begin_move(clock::time_point now) {
  move_target_ = order_.preferred(current_, now);
  if (move_target_ == current_ && cfg_.reconnect_interval.count() == 0) return false;
  spare_ = new_link();
  phase_ = delivery_phase::moving;
  delivery_action a{delivery_action::kind::connect, spare_};
  a.destination = move_target_;
  emit(std::move(a));
  return true;
}

void delivery_fsm::spare_failed(const std::string& why, clock::time_point now) {
  const bool failing_back = move_target_ != current_;
  report(report_level::debug,
         fmt::format("staying on {}: {} still fails: {}", destinations_[current_].to_string(),
                     destinations_[move_target_].to_string(), why));
  if (failing_back)
    order_.failed(move_target_, now);
  else
    connected_at_ = now;  // the next try one interval on
  spare_ = 0;
  phase_ = delivery_phase::connected;
  if (!finishing_) arm_move_timer(now);
  pump(now);
}

void delivery_fsm::spare_connected(clock::time_point now) {
  if (finishing_) {
    // Too late to move: the connection there drains and closes.
    close_link(spare_, false);
    spare_ = 0;
    phase_ = delivery_phase::connected;
    pump(now);
    return;
  }
  // Make-before-break: the new connection is up; the old one gets a FIN and
  // is closed once its peer acknowledged everything (or after a bounded
  // wait, then the rest goes again on the new one).
  cancel(delivery_timer::ack);
  ack_timer_armed_ = false;
  emit(delivery_action{delivery_action::kind::shutdown_send, live_});
  drain_until_ = now + std::min<clock::duration>(cfg_.stall_timeout, move_drain_limit);
  phase_ = delivery_phase::draining_move;
  emit(delivery_action{delivery_action::kind::snapshot, live_});
}

void delivery_fsm::promote_spare(clock::time_point now) {
  // The old peer closed cleanly after a FIN, so only what it never
  // acknowledged can be missing there.
  replay(false);
  const auto from = destinations_[current_].to_string();
  const bool failing_back = move_target_ != current_;
  live_ = spare_;
  spare_ = 0;
  current_ = move_target_;
  report(report_level::info,
         fmt::format("moved the connection from {} to {} ({}), the old one drained first", from,
                     destinations_[current_].to_string(),
                     failing_back ? "fail-back" : "reconnect_interval"));
  start_connection(now);
  pump(now);
}

void delivery_fsm::on_timer(delivery_timer timer, clock::time_point now) {
  switch (timer) {
    case delivery_timer::retry:
      if (phase_ == delivery_phase::backing_off) next_attempt(now);
      break;
    case delivery_timer::flush:
      if (phase_ == delivery_phase::connected) pump(now);
      break;
    case delivery_timer::stall:
      if (phase_ == delivery_phase::writing)
        drop(disconnect_cause::stalled,
             fmt::format("stalled: no write progress for {} ms", cfg_.stall_timeout.count()), false,
             now);
      break;
    case delivery_timer::ack:
      ack_timer_armed_ = false;
      if (phase_ == delivery_phase::connected || phase_ == delivery_phase::writing ||
          phase_ == delivery_phase::moving || phase_ == delivery_phase::final_drain) {
        ack_check_due_ = true;
        emit(delivery_action{delivery_action::kind::snapshot, live_});
      }
      break;
    case delivery_timer::move:
      if (phase_ != delivery_phase::connected && phase_ != delivery_phase::writing) break;
      move_due_ = !finishing_;
      if (phase_ == delivery_phase::connected) pump(now);
      break;
    case delivery_timer::poll:
      if (phase_ == delivery_phase::final_drain || phase_ == delivery_phase::draining_move)
        emit(delivery_action{delivery_action::kind::snapshot, live_});
      break;
    case delivery_timer::deadline:
      if (finishing_) give_up();
      break;
  }
}

void delivery_fsm::on_ack_snapshot(const delivery_event& e, clock::time_point now) {
  if (e.link != live_ || !connected()) return;
  if (ack_check_due_ && phase_ != delivery_phase::draining_move) {
    ack_check_due_ = false;
    check_acknowledgements(e, now);
    if (!connected()) return;  // it ended the connection
  }
  const bool all_acknowledged = e.unacked <= 0;
  if (phase_ == delivery_phase::final_drain) {
    if (all_acknowledged || past_deadline(now))
      close_live(true, then::finish);
    else
      arm(delivery_timer::poll, std::min(now + ack_poll_interval, deadline_));
  } else if (phase_ == delivery_phase::draining_move && closing_ == 0) {
    if (all_acknowledged || now >= drain_until_) {
      closing_ = live_;
      close_link(live_, true);
    } else {
      arm(delivery_timer::poll, std::min(now + ack_poll_interval, drain_until_));
    }
  }
}

void delivery_fsm::on_closed(const delivery_event& e, clock::time_point now) {
  if (e.link != closing_ || closing_ == 0) return;
  closing_ = 0;
  unacked_at_close_ = e.unacked;
  if (phase_ == delivery_phase::draining_move)
    promote_spare(now);
  else if (writing_link_ == 0)
    after_close(now);
}

}  // namespace sockpush
