// The delivery state machine, writing: batches from the buffer, telling a
// dead connection, what goes back to the buffer when one ends, and drains.
#include <algorithm>
#include <chrono>

#include "sockpush/carbon/delivery_fsm.hpp"

namespace sockpush {
namespace {

using namespace std::chrono_literals;

/// tcpi_last_ack_recv counts in jiffies: an ACK within a few of them after
/// a write may have come before it.
constexpr auto ack_clock_slack = 10ms;

disconnect_cause cause_of(link_error error) {
  switch (error) {
    case link_error::closed:
      return disconnect_cause::closed_by_peer;
    case link_error::reset:
      return disconnect_cause::reset;
    case link_error::timed_out:
      return disconnect_cause::timed_out;
    default:
      return disconnect_cause::other;
  }
}

}  // namespace

void delivery_fsm::pump(clock::time_point now) {
  if (past_deadline(now)) {
    give_up();
    return;
  }
  if (move_due_) {
    move_due_ = false;
    if (begin_move(now)) return;
  }
  if (buffer_.empty()) {
    if (finishing()) begin_final_drain();
    return;
  }
  if (!wait_for_more(now)) write_batch(now);
}

bool delivery_fsm::wait_for_more(clock::time_point now) {
  // Coalescing: a lone line waits (bounded) for the ones behind it.
  if (cfg_.flush_delay.count() > 0 && !finishing() && buffer_.bytes() < flush_bytes) {
    if (!flush_due_) flush_due_ = now + cfg_.flush_delay;
    if (now < *flush_due_) {
      arm(delivery_timer::flush, *flush_due_);
      return true;
    }
  }
  if (flush_due_) {
    flush_due_.reset();
    cancel(delivery_timer::flush);
  }
  return false;
}

void delivery_fsm::write_batch(clock::time_point now) {
  batch next{history_.take_spare(), 0, 0, *live_};
  next.lines = buffer_.take(next.data, max_batch_bytes);
  batch_ = std::move(next);
  history_.mark_write(now);
  phase_ = delivery_phase::writing;
  write_rest(now);
}

void delivery_fsm::write_rest(clock::time_point now) {
  // Restarted on every bit of progress: it fires only when there is none.
  arm(delivery_timer::stall, now + cfg_.stall_timeout);
  emit({action::write{batch_->link, std::string_view(batch_->data).substr(batch_->written)}});
}

void delivery_fsm::on_wrote(const event::wrote& e, clock::time_point now) {
  if (!batch_ || e.link != batch_->link) return;
  batch_->written += std::min(e.bytes, batch_->data.size() - batch_->written);
  if (phase_ != delivery_phase::writing) {
    // The connection was given up while this write was under way.
    settle_batch();
    if (phase_ == delivery_phase::closing && !retiring_->awaiting_closed) after_close(now);
    return;
  }
  if (e.error != link_error::none) {
    settle_batch();
    drop({.cause = cause_of(e.error), .how = loss_noticed::by_write, .error = e.why}, now);
    return;
  }
  // From the oldest write not yet checked: an armed check stays.
  arm(delivery_timer::ack, now + cfg_.user_timeout, arming::unless_armed);
  if (batch_->written < batch_->data.size()) {
    write_rest(now);
    return;
  }
  cancel(delivery_timer::stall);
  complete_batch();
  pump(now);
}

void delivery_fsm::complete_batch() {
  stats_.sent_lines += batch_->lines;
  destination_stats_[current_].sent_lines += batch_->lines;
  history_.add(std::move(batch_->data));
  batch_.reset();
  phase_ = delivery_phase::connected;
}

void delivery_fsm::settle_batch() {
  // Back to the buffer: everything from the start of the line holding the
  // first unwritten byte. The part of that line already written is sent
  // again whole, so carbon sees a complete line (it ignores the fragment).
  const std::string_view all(batch_->data);
  const auto done = all.substr(0, batch_->written);
  const auto last_newline = done.rfind('\n');
  const std::size_t whole = last_newline == std::string_view::npos ? 0 : last_newline + 1;
  const auto sent = count_lines(done.substr(0, whole));
  stats_.sent_lines += sent;
  destination_stats_[current_].sent_lines += sent;
  if (whole < all.size()) buffer_.put_back(all.substr(whole));
  if (!done.empty()) history_.add(std::string(done));
  batch_.reset();
}

void delivery_fsm::check_acknowledgements(const event::ack_snapshot& e, clock::time_point now) {
  // All acknowledged: the next write arms the timer again. No tcp_info:
  // the kernel's own TCP_USER_TIMEOUT is all there is.
  if (e.unacked.value_or(0) == 0 || !e.last_ack) return;
  // The write that holds the oldest unacknowledged byte. A batch being
  // written counts whole: the kernel may have taken it before the shell
  // heard so, and its bytes all share the batch's write time anyway.
  const std::uint64_t taken = history_.end() + (batch_ ? batch_->data.size() : 0);
  const std::uint64_t oldest = taken - std::min<std::uint64_t>(taken, *e.unacked);
  const auto written_at = history_.written_at(oldest).value_or(now);
  const bool acked_since = *e.last_ack > written_at + ack_clock_slack;
  const auto due = written_at + cfg_.user_timeout;
  if (!acked_since && now >= due) {
    drop({.cause = disconnect_cause::timed_out,
          .how = loss_noticed::by_ack_check,
          .unacked = *e.unacked,
          .waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - written_at),
          .limit = cfg_.user_timeout},
         now);
    return;
  }
  // A peer that acknowledges something is alive, if slow. One whose window
  // stays shut is ended by the stall timer, or by the kernel's own
  // TCP_USER_TIMEOUT, which on 6.x also counts answered window probes.
  arm(delivery_timer::ack, acked_since ? now + cfg_.user_timeout : due);
}

void delivery_fsm::on_peer_closed(const event::peer_closed& e, clock::time_point now) {
  // A move's old connection ends after our FIN: expected, and drained anyway.
  if (e.link != live_ || !connected() || phase_ == delivery_phase::draining_move ||
      e.error == link_error::aborted || e.error == link_error::none)
    return;
  drop({.cause = cause_of(e.error),
        .how = loss_noticed::by_read,
        .error = e.error == link_error::closed ? std::string() : e.why},
       now);
}

void delivery_fsm::drop(connection_loss loss, clock::time_point now) {
  ++stats_.disconnects[loss.cause];
  last_loss_ = loss_record{std::move(loss), now};
  if (spare_) {
    close_link(*spare_, close_mode::orderly);
    spare_.reset();
    move_.reset();
  }
  // Lost while waiting for the last acknowledgements: done if there were
  // none left to wait for.
  close_live(ending::lost, phase_ == delivery_phase::final_drain ? then::finish_if_acknowledged
                                                                 : then::reconnect);
}

void delivery_fsm::close_live(ending how, then next) {
  for (auto timer : {delivery_timer::stall, delivery_timer::ack, delivery_timer::move,
                     delivery_timer::flush, delivery_timer::poll})
    cancel(timer);
  flush_due_.reset();
  move_due_ = false;
  // Drained: a FIN, and a reset only if bytes are still unacknowledged (they
  // go back to the buffer; the kernel must not deliver them late, twice).
  if (how == ending::drained) emit({action::shutdown_send{*live_}});
  retiring_ = retiring_link{*live_, next};
  close_link(*live_, how == ending::drained ? close_mode::reset_if_unacked : close_mode::orderly);
  live_.reset();
  phase_ = delivery_phase::closing;
}

void delivery_fsm::after_close(clock::time_point now) {
  const auto next = retiring_->next;
  retiring_.reset();
  const bool nothing_unacknowledged = unacked_at_close_ == std::size_t{0};
  switch (next) {
    case then::finish_if_acknowledged:
      if (nothing_unacknowledged) {
        all_acknowledged_ = true;
        finish_run();
      } else {
        after_loss(now);  // sent again on a new connection while the deadline allows
      }
      break;
    case then::reconnect:
      after_loss(now);
      break;
    case then::finish:
      // What is unacknowledged, or not known to be acknowledged, goes back,
      // to be spooled or counted as undelivered.
      all_acknowledged_ = nothing_unacknowledged;
      if (!all_acknowledged_) replay(replay_scope::unacknowledged);
      finish_run();
      break;
    case then::promote_spare:
      promote_spare(now);
      break;
  }
}

void delivery_fsm::after_loss(clock::time_point now) {
  log(report::lost{current_, last_loss_->loss});
  order_.failed(current_, now);
  replay(replay_scope::after_failure);
  outage_ = outage{now, {}};
  // A pause even after a clean drop, so a peer that accepts and closes at
  // once cannot make us spin.
  retry_later(now);
}

void delivery_fsm::replay(replay_scope scope) {
  // The kernel's unacknowledged count (SIOCOUTQ, still answered after a
  // reset) says where the peer stopped taking bytes.
  std::uint64_t from = history_.end();
  if (unacked_at_close_.value_or(0) > 0) from -= std::min<std::uint64_t>(from, *unacked_at_close_);
  const bool after_failure = scope == replay_scope::after_failure;
  if (after_failure && cfg_.replay_seconds.count() > 0)
    from = std::min(from, history_.first_written_since(last_loss_->at - cfg_.replay_seconds));
  if (from < history_.begin()) {
    log(report::replay_truncated{history_.begin() - from});
    from = history_.begin();
  }
  // Carbon stopping: it may have dropped what it read in its last write
  // pass. Best effort within the history, so no warning when it holds less.
  if (after_failure && last_loss_->loss.by_peer() && cfg_.peer_close_replay_seconds.count() > 0)
    from = std::min(
        from, std::max(history_.begin(), history_.first_written_since(
                                             last_loss_->at - cfg_.peer_close_replay_seconds)));
  const auto lines = history_.lines_from(from);
  if (!lines.empty()) {
    const auto count = count_lines(lines);
    buffer_.put_back(lines);
    stats_.replayed_lines += count;
    log(report::replaying{count, lines.size()});
  }
  history_.clear();
}

void delivery_fsm::begin_final_drain() {
  // Lines count as delivered once the peer's TCP has acknowledged them:
  // until then a reset would lose them.
  phase_ = delivery_phase::final_drain;
  snapshot(*live_, snapshot_purpose::drain);
}

}  // namespace sockpush
