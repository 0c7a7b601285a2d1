// The delivery state machine, connecting: destinations in failover order,
// the backoff after a round that all failed, the outage logged once, and
// make-before-break moves (fail-back and reconnect_interval).
#include <algorithm>
#include <chrono>

#include "sockpush/carbon/delivery_fsm.hpp"

namespace sockpush {
namespace {

using namespace std::chrono_literals;

/// A move waits at most this long (and at most stall_timeout) for the old
/// connection's acknowledgements before closing it.
constexpr auto move_drain_limit = 5s;

}  // namespace

void delivery_fsm::on_start(clock::time_point now) {
  if (phase_ == delivery_phase::idle) next_attempt(now);
}

void delivery_fsm::next_attempt(clock::time_point now) {
  if (finishing() && (buffer_.empty() || now >= *deadline_)) {
    end_without_connection();
    return;
  }
  attempt_failures_.clear();
  connect_to(order_.first(now));
}

void delivery_fsm::connect_to(std::size_t destination) {
  current_ = destination;
  live_ = new_link();
  phase_ = delivery_phase::connecting;
  emit({action::connect{*live_, destination}});
}

void delivery_fsm::on_connected(const event::connected& e, clock::time_point now) {
  if (phase_ == delivery_phase::connecting && e.link == live_) {
    start_connection(e.peer, now);
    pump(now);
  } else if (phase_ == delivery_phase::moving && e.link == spare_) {
    move_->spare_peer = e.peer;
    spare_connected(now);
  }
}

void delivery_fsm::on_connect_failed(const event::connect_failed& e, clock::time_point now) {
  if (phase_ == delivery_phase::moving && e.link == spare_) {
    spare_failed(e.why, now);
    return;
  }
  if (phase_ != delivery_phase::connecting || e.link != live_) return;
  order_.failed(current_, now);
  attempt_failures_.push_back({current_, e.why});
  live_.reset();
  if (auto next = order_.next_after(current_); next && !past_deadline(now)) {
    connect_to(*next);
    return;
  }
  // The whole round failed: reported once per outage (or when the reasons
  // change), not per attempt.
  if (!outage_ || attempt_failures_ != outage_->reported) {
    log(report::cannot_connect{attempt_failures_});
    if (!outage_) outage_ = outage{now, {}};
    outage_->reported = attempt_failures_;
  }
  retry_later(now);
}

void delivery_fsm::retry_later(clock::time_point now) {
  const auto delay = backoff_.next();
  log(report::next_attempt{delay});
  auto at = now + delay;
  // Only finishing cuts a pause short: new lines must not.
  if (finishing()) at = std::min(at, *deadline_);
  if (at <= now) {
    next_attempt(now);
    return;
  }
  phase_ = delivery_phase::backing_off;
  arm(delivery_timer::retry, at);
}

void delivery_fsm::start_connection(const std::string& peer, clock::time_point now) {
  // The address a name resolved to: DNS changes show in the log.
  const auto shown = peer != destinations_[current_].where.host ? peer : std::string();
  if (outage_)
    log(report::reconnected{current_, shown, backoff_.attempts(), now - outage_->since,
                            buffer_.lines()});
  else
    log(report::connected{current_, shown});
  const bool ever_connected = std::find(ever_connected_to_.begin(), ever_connected_to_.end(),
                                        true) != ever_connected_to_.end();
  if (ever_connected || outage_) ++stats_.reconnects;
  if (ever_connected_to_[current_]) ++destination_stats_[current_].reconnects;
  ever_connected_to_[current_] = true;
  outage_.reset();
  backoff_.reset();
  phase_ = delivery_phase::connected;
  move_due_ = false;
  connected_at_ = now;
  cancel(delivery_timer::ack);
  emit({action::watch{*live_}});
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
  const auto target = order_.preferred(current_, now);
  if (target == current_ && cfg_.reconnect_interval.count() == 0) return false;
  move_ = move{
      target, target != current_ ? move_reason::fail_back : move_reason::reconnect_interval, {}};
  spare_ = new_link();
  phase_ = delivery_phase::moving;
  emit({action::connect{*spare_, target}});
  return true;
}

void delivery_fsm::spare_failed(const std::string& why, clock::time_point now) {
  log(report::move_failed{current_, move_->target, why});
  if (move_->why == move_reason::fail_back)
    order_.failed(move_->target, now);
  else
    connected_at_ = now;  // the next try one interval on
  spare_.reset();
  move_.reset();
  phase_ = delivery_phase::connected;
  if (!finishing()) arm_move_timer(now);
  pump(now);
}

void delivery_fsm::spare_connected(clock::time_point now) {
  if (finishing()) {
    // Too late to move: the connection there drains and closes.
    close_link(*spare_, close_mode::orderly);
    spare_.reset();
    move_.reset();
    phase_ = delivery_phase::connected;
    pump(now);
    return;
  }
  // Make-before-break: the new connection is up; the old one gets a FIN and
  // is closed once its peer acknowledged everything (or after a bounded
  // wait, then the rest goes again on the new one).
  cancel(delivery_timer::ack);
  emit({action::shutdown_send{*live_}});
  drain_until_ = now + std::min<clock::duration>(cfg_.stall_timeout, move_drain_limit);
  phase_ = delivery_phase::draining_move;
  snapshot(*live_, snapshot_purpose::drain);
}

void delivery_fsm::promote_spare(clock::time_point now) {
  // The old peer closed cleanly after a FIN, so only what it never
  // acknowledged can be missing there.
  replay(replay_scope::unacknowledged);
  const auto from = current_;
  const auto done_move = std::move(*move_);
  live_ = spare_;
  spare_.reset();
  move_.reset();
  current_ = done_move.target;
  log(report::moved{from, current_, done_move.why});
  start_connection(done_move.spare_peer, now);
  pump(now);
}

}  // namespace sockpush
