// The delivery state machine: events in, timers, and how a run ends.
// Connecting, failover and moves: delivery_connecting.cpp. Writing, lost
// connections, drains and replay: delivery_writing.cpp.
#include "sockpush/carbon/delivery_fsm.hpp"

#include <algorithm>
#include <stdexcept>

#include "sockpush/common/overloaded.hpp"

namespace sockpush {

std::string_view to_string(delivery_phase phase) {
  static constexpr std::string_view names[] = {
      "idle",   "connecting",    "backing_off", "connected", "writing",
      "moving", "draining_move", "final_drain", "closing",   "done"};
  return names[static_cast<std::size_t>(phase)];
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
      history_(2 * cfg.send_buffer + (cfg.replay_seconds.count() > 0 ? buffer.max_bytes() : 0)),
      ever_connected_to_(destinations_.size()),
      destination_stats_(destinations_.size()) {
  if (destinations_.empty()) throw std::invalid_argument("delivery needs a destination");
  for (std::size_t i = 0; i < destinations_.size(); ++i) {
    names_.push_back(destinations_[i].to_string());
    destination_stats_[i].name = destinations_[i].metric_name();
  }
}

const std::vector<delivery_action>& delivery_fsm::on(const delivery_event& e,
                                                     clock::time_point now) {
  actions_.clear();
  if (phase_ == delivery_phase::done) return actions_;
  std::visit(overloaded{
                 [&](const event::start&) { on_start(now); },
                 [&](const event::wake&) {
                   if (phase_ == delivery_phase::connected) pump(now);
                 },
                 [&](const event::finish& f) { on_finish(f.deadline, now); },
                 [&](const event::connected& c) { on_connected(c, now); },
                 [&](const event::connect_failed& f) { on_connect_failed(f, now); },
                 [&](const event::wrote& w) { on_wrote(w, now); },
                 [&](const event::peer_closed& p) { on_peer_closed(p, now); },
                 [&](const event::timer_fired& t) { on_timer(t.timer, now); },
                 [&](const event::ack_snapshot& s) { on_ack_snapshot(s, now); },
                 [&](const event::closed& c) { on_closed(c, now); },
             },
             e.what);
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

delivery_fsm::link_roles delivery_fsm::links() const {
  link_roles roles{live_, spare_, std::nullopt, std::nullopt};
  if (retiring_) roles.retiring = retiring_->awaiting_closed;
  if (batch_) roles.writing = batch_->link;
  return roles;
}

void delivery_fsm::arm(delivery_timer timer, clock::time_point at, arming how) {
  emit({action::arm_timer{timer, at, how}});
}

void delivery_fsm::cancel(delivery_timer timer) {
  emit({action::cancel_timer{timer}});
}

void delivery_fsm::log(delivery_report what) {
  emit({action::log{std::move(what)}});
}

void delivery_fsm::close_link(link_id link, close_mode mode) {
  emit({action::close{link, mode}});
}

void delivery_fsm::snapshot(link_id link, snapshot_purpose purpose) {
  emit({action::snapshot{link, purpose}});
}

void delivery_fsm::on_finish(clock::time_point deadline, clock::time_point now) {
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
        drop({.cause = disconnect_cause::stalled,
              .how = loss_noticed::by_stall_timer,
              .limit = cfg_.stall_timeout},
             now);
      break;
    case delivery_timer::ack:
      if (phase_ == delivery_phase::connected || phase_ == delivery_phase::writing ||
          phase_ == delivery_phase::moving || phase_ == delivery_phase::final_drain)
        snapshot(*live_, snapshot_purpose::ack_check);
      break;
    case delivery_timer::move:
      if (phase_ != delivery_phase::connected && phase_ != delivery_phase::writing) break;
      move_due_ = !finishing();
      if (phase_ == delivery_phase::connected) pump(now);
      break;
    case delivery_timer::poll:
      if (phase_ == delivery_phase::final_drain || phase_ == delivery_phase::draining_move)
        snapshot(*live_, snapshot_purpose::drain);
      break;
    case delivery_timer::deadline:
      if (finishing()) give_up();
      break;
  }
}

void delivery_fsm::on_ack_snapshot(const event::ack_snapshot& e, clock::time_point now) {
  if (e.link != live_ || !connected()) return;
  if (e.purpose == snapshot_purpose::ack_check && phase_ != delivery_phase::draining_move) {
    check_acknowledgements(e, now);
    if (!connected()) return;  // it ended the connection
  }
  // Unknown counts as settled here: asking again would not tell more. The
  // close that follows decides whether the run delivered.
  const bool all_acknowledged = e.unacked.value_or(0) == 0;
  if (phase_ == delivery_phase::final_drain) {
    if (all_acknowledged || past_deadline(now))
      close_live(ending::drained, then::finish);
    else
      arm(delivery_timer::poll, std::min(now + ack_poll_interval, *deadline_));
  } else if (phase_ == delivery_phase::draining_move && !retiring_) {
    if (all_acknowledged || now >= drain_until_) {
      retiring_ = retiring_link{*live_, then::promote_spare};
      close_link(*live_, close_mode::reset_if_unacked);
    } else {
      arm(delivery_timer::poll, std::min(now + ack_poll_interval, drain_until_));
    }
  }
}

void delivery_fsm::on_closed(const event::closed& e, clock::time_point now) {
  if (!retiring_ || e.link != retiring_->awaiting_closed) return;
  retiring_->awaiting_closed.reset();
  unacked_at_close_ = e.unacked;
  // A write still under way settles first (on_wrote carries on from there).
  if (!batch_) after_close(now);
}

void delivery_fsm::give_up() {
  switch (phase_) {
    case delivery_phase::connecting:
      close_link(*live_, close_mode::orderly);
      live_.reset();
      end_without_connection();
      break;
    case delivery_phase::backing_off:
      end_without_connection();
      break;
    case delivery_phase::connected:
    case delivery_phase::writing:
    case delivery_phase::moving:
    case delivery_phase::final_drain:
      if (spare_) {
        close_link(*spare_, close_mode::orderly);
        spare_.reset();
        move_.reset();
      }
      close_live(ending::drained, then::finish);
      break;
    case delivery_phase::draining_move:
      // End the drain now; the new connection then finds the deadline past.
      if (!retiring_) {
        retiring_ = retiring_link{*live_, then::promote_spare};
        close_link(*live_, close_mode::reset_if_unacked);
      }
      break;
    case delivery_phase::idle:     // next_attempt() sees the deadline
    case delivery_phase::closing:  // it settles, then sees the deadline
    case delivery_phase::done:
      break;
  }
}

void delivery_fsm::end_without_connection() {
  // Whatever the last connection left unacknowledged went back to the
  // buffer when it ended; a known zero means it had delivered everything.
  all_acknowledged_ = unacked_at_close_ == std::size_t{0};
  finish_run();
}

void delivery_fsm::finish_run() {
  for (std::size_t t = 0; t < delivery_timer_count; ++t) cancel(static_cast<delivery_timer>(t));
  if (!buffer_.empty()) log(report::undelivered{buffer_.lines()});
  phase_ = delivery_phase::done;
  emit({action::done{}});
}

}  // namespace sockpush
