// The delivery state machine, continued: writing batches, telling a dead
// connection, what goes back to the buffer, and how a run ends.
#include <fmt/format.h>

#include <algorithm>

#include "sockpush/carbon/delivery_fsm.hpp"

namespace sockpush {
namespace {

using namespace std::chrono_literals;

/// tcpi_last_ack_recv counts in jiffies: an ACK within a few of them after
/// a write may have come before it.
constexpr auto ack_clock_slack = 10ms;

long long milliseconds_between(delivery_fsm::clock::time_point from,
                               delivery_fsm::clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

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

/// The peer ended the connection on purpose (carbon stopping or killed),
/// rather than the network or a timeout ending it.
bool ended_by_peer(link_error error) {
  return error == link_error::closed || error == link_error::reset;
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
    if (finishing_) begin_final_drain();
    return;
  }
  if (!wait_for_more(now)) write_batch(now);
}

bool delivery_fsm::wait_for_more(clock::time_point now) {
  // Coalescing: a lone line waits (bounded) for the ones behind it.
  if (cfg_.flush_delay.count() > 0 && !finishing_ && buffer_.bytes() < flush_bytes) {
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
  in_flight_ = history_.take_spare();
  in_flight_lines_ = buffer_.take(in_flight_, max_batch_bytes);
  written_ = 0;
  writing_link_ = live_;
  history_.mark_write(now);
  phase_ = delivery_phase::writing;
  write_rest(now);
}

void delivery_fsm::write_rest(clock::time_point now) {
  // Restarted on every bit of progress: it fires only when there is none.
  arm(delivery_timer::stall, now + cfg_.stall_timeout);
  delivery_action a{delivery_action::kind::write, live_};
  a.data = std::string_view(in_flight_).substr(written_);
  emit(std::move(a));
}

void delivery_fsm::on_wrote(const delivery_event& e, clock::time_point now) {
  if (writing_link_ == 0 || e.link != writing_link_) return;
  written_ += std::min(e.bytes, in_flight_.size() - written_);
  if (phase_ != delivery_phase::writing) {
    // The connection was given up while this write was under way.
    settle_batch();
    if (phase_ == delivery_phase::closing && closing_ == 0) after_close(now);
    return;
  }
  if (e.error != link_error::none) {
    settle_batch();
    drop(cause_of(e.error), "write failed: " + e.detail, ended_by_peer(e.error), now);
    return;
  }
  if (!ack_timer_armed_) {
    ack_timer_armed_ = true;
    arm(delivery_timer::ack, now + cfg_.user_timeout);
  }
  if (written_ < in_flight_.size()) {
    write_rest(now);
    return;
  }
  cancel(delivery_timer::stall);
  complete_batch();
  pump(now);
}

void delivery_fsm::complete_batch() {
  stats_.sent_lines += in_flight_lines_;
  destination_stats_[current_].sent_lines += in_flight_lines_;
  history_.add(std::move(in_flight_));
  in_flight_.clear();
  in_flight_lines_ = 0;
  writing_link_ = 0;
  phase_ = delivery_phase::connected;
}

void delivery_fsm::settle_batch() {
  // Back to the buffer: everything from the start of the line holding the
  // first unwritten byte. The part of that line already written is sent
  // again whole, so carbon sees a complete line (it ignores the fragment).
  const std::string_view done(in_flight_.data(), written_);
  const auto last_newline = done.rfind('\n');
  const std::size_t whole = last_newline == std::string_view::npos ? 0 : last_newline + 1;
  const auto sent = count_lines(done.substr(0, whole));
  stats_.sent_lines += sent;
  destination_stats_[current_].sent_lines += sent;
  if (whole < in_flight_.size()) buffer_.put_back(std::string_view(in_flight_).substr(whole));
  if (!done.empty()) history_.add(std::string(done));
  in_flight_.clear();
  in_flight_lines_ = 0;
  writing_link_ = 0;
}

void delivery_fsm::check_acknowledgements(const delivery_event& e, clock::time_point now) {
  // All acknowledged: the next write arms the timer again. No tcp_info:
  // the kernel's own TCP_USER_TIMEOUT is all there is.
  if (e.unacked <= 0 || !e.last_ack) return;
  // The write that holds the oldest unacknowledged byte. A batch being
  // written counts whole: the kernel may have taken it before the shell
  // heard so, and its bytes all share the batch's write time anyway.
  const std::uint64_t taken = history_.end() + (writing_link_ != 0 ? in_flight_.size() : 0);
  const std::uint64_t oldest = taken - std::min<std::uint64_t>(taken, e.unacked);
  const auto written_at = history_.written_at(oldest).value_or(now);
  const bool acked_since = *e.last_ack > written_at + ack_clock_slack;
  const auto due = written_at + cfg_.user_timeout;
  if (!acked_since && now >= due) {
    drop(disconnect_cause::timed_out,
         fmt::format(
             "timed out: {} bytes written {} ms ago were never acknowledged (user_timeout {} ms)",
             e.unacked, milliseconds_between(written_at, now), cfg_.user_timeout.count()),
         false, now);
    return;
  }
  // A peer that acknowledges something is alive, if slow. One whose window
  // stays shut is ended by the stall timer, or by the kernel's own
  // TCP_USER_TIMEOUT, which on 6.x also counts answered window probes.
  ack_timer_armed_ = true;
  arm(delivery_timer::ack, acked_since ? now + cfg_.user_timeout : due);
}

void delivery_fsm::on_peer_closed(const delivery_event& e, clock::time_point now) {
  // A move's old connection ends after our FIN: expected, and drained anyway.
  if (e.link != live_ || !connected() || phase_ == delivery_phase::draining_move ||
      e.error == link_error::aborted || e.error == link_error::none)
    return;
  drop(cause_of(e.error), e.error == link_error::closed ? "closed by peer" : e.detail,
       ended_by_peer(e.error), now);
}

void delivery_fsm::drop(disconnect_cause cause, std::string reason, bool by_peer,
                        clock::time_point now) {
  switch (cause) {
    case disconnect_cause::closed_by_peer:
      ++stats_.closed_by_peer;
      break;
    case disconnect_cause::reset:
      ++stats_.reset;
      break;
    case disconnect_cause::timed_out:
      ++stats_.timed_out;
      break;
    case disconnect_cause::stalled:
      ++stats_.stalled;
      break;
    case disconnect_cause::other:
      ++stats_.other_failures;
      break;
  }
  lost_reason_ = std::move(reason);
  closed_by_peer_ = by_peer;
  failed_at_ = now;
  if (spare_ != 0) {
    close_link(spare_, false);
    spare_ = 0;
  }
  // Lost while waiting for the last acknowledgements: done if there were
  // none left to wait for.
  close_live(false, phase_ == delivery_phase::final_drain ? then::finish_if_acknowledged
                                                          : then::reconnect);
}

void delivery_fsm::close_live(bool drained, then next) {
  for (auto timer : {delivery_timer::stall, delivery_timer::ack, delivery_timer::move,
                     delivery_timer::flush, delivery_timer::poll})
    cancel(timer);
  ack_timer_armed_ = false;
  ack_check_due_ = false;
  flush_due_.reset();
  move_due_ = false;
  // Drained: a FIN, and a reset only if bytes are still unacknowledged (they
  // go back to the buffer; the kernel must not deliver them late, twice).
  if (drained) emit(delivery_action{delivery_action::kind::shutdown_send, live_});
  closing_ = live_;
  after_close_ = next;
  close_link(live_, drained);
  live_ = 0;
  phase_ = delivery_phase::closing;
}

void delivery_fsm::after_close(clock::time_point now) {
  switch (after_close_) {
    case then::finish_if_acknowledged:
      if (unacked_at_close_ == 0) {
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
      // What is unacknowledged goes back, to be spooled or counted as undelivered.
      all_acknowledged_ = unacked_at_close_ <= 0;
      if (!all_acknowledged_) replay(false);
      finish_run();
      break;
  }
}

void delivery_fsm::after_loss(clock::time_point now) {
  report(report_level::warn,
         fmt::format("connection to carbon at {} lost: {}; buffering and reconnecting",
                     destinations_[current_].to_string(), lost_reason_));
  order_.failed(current_, now);
  replay(true);
  logged_down_ = true;
  last_failure_ = lost_reason_;
  down_since_ = now;
  // A pause even after a clean drop, so a peer that accepts and closes at
  // once cannot make us spin.
  retry_later(now);
}

void delivery_fsm::replay(bool after_failure) {
  // The kernel's unacknowledged count (SIOCOUTQ, still answered after a
  // reset) says where the peer stopped taking bytes.
  std::uint64_t from = history_.end();
  if (unacked_at_close_ > 0) from -= std::min<std::uint64_t>(from, unacked_at_close_);
  if (after_failure && cfg_.replay_window.count() > 0)
    from = std::min(from, history_.first_written_since(failed_at_ - cfg_.replay_window));
  if (from < history_.begin()) {
    report(
        report_level::warn,
        fmt::format("{} bytes or more to re-send were older than the history kept; they are lost",
                    history_.begin() - from));
    from = history_.begin();
  }
  // Carbon stopping: it may have dropped what it read in its last write
  // pass. Best effort within the history, so no warning when it holds less.
  if (after_failure && closed_by_peer_ && cfg_.peer_close_replay.count() > 0)
    from =
        std::min(from, std::max(history_.begin(),
                                history_.first_written_since(failed_at_ - cfg_.peer_close_replay)));
  const auto lines = history_.lines_from(from);
  if (!lines.empty()) {
    const auto count = count_lines(lines);
    buffer_.put_back(lines);
    stats_.replayed_lines += count;
    report(report_level::info,
           fmt::format("re-sending {} lines ({} bytes) the peer may not have stored", count,
                       lines.size()));
  }
  history_.clear();
}

void delivery_fsm::begin_final_drain() {
  // Lines count as delivered once the peer's TCP has acknowledged them:
  // until then a reset would lose them.
  phase_ = delivery_phase::final_drain;
  emit(delivery_action{delivery_action::kind::snapshot, live_});
}

void delivery_fsm::give_up() {
  switch (phase_) {
    case delivery_phase::connecting:
      close_link(live_, false);
      live_ = 0;
      end_without_connection();
      break;
    case delivery_phase::backing_off:
      end_without_connection();
      break;
    case delivery_phase::connected:
    case delivery_phase::writing:
    case delivery_phase::moving:
    case delivery_phase::final_drain:
      if (spare_ != 0) {
        close_link(spare_, false);
        spare_ = 0;
      }
      close_live(true, then::finish);
      break;
    case delivery_phase::draining_move:
      // End the drain now; the new connection then finds the deadline past.
      if (closing_ == 0) {
        closing_ = live_;
        close_link(live_, true);
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
  // buffer when it ended; zero means it had delivered everything.
  all_acknowledged_ = unacked_at_close_ == 0;
  finish_run();
}

void delivery_fsm::finish_run() {
  for (std::size_t t = 0; t < delivery_timer_count; ++t) cancel(static_cast<delivery_timer>(t));
  if (!buffer_.empty())
    report(report_level::warn,
           fmt::format("{} lines could not be delivered to {} before the deadline", buffer_.lines(),
                       describe()));
  phase_ = delivery_phase::done;
  emit(delivery_action{delivery_action::kind::done});
}

}  // namespace sockpush
