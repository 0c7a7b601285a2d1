// What the delivery machine (delivery_fsm) and its I/O shell say to each
// other: events in, actions out, and the reports the machine asks the shell
// to log. Each kind carries its own fields (a std::variant of small structs),
// so no field means one thing for one kind and another for the next.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sockpush/carbon/writer_stats.hpp"

namespace sockpush {

/// One connection (or attempt at one). Never reused.
using link_id = std::uint64_t;
using delivery_clock = std::chrono::steady_clock;

/// Bytes written on a link that its peer has not acknowledged (SIOCOUTQ);
/// nullopt when the kernel could not tell.
using unacked_bytes = std::optional<std::size_t>;

/// The timers decisions wait on; the shell keeps one of each.
enum class delivery_timer : std::uint8_t {
  retry,     ///< the backoff pause before the next round of attempts is over
  flush,     ///< flush_delay: what is buffered must be written now
  stall,     ///< the write under way made no progress for stall_timeout
  ack,       ///< time to check the oldest unacknowledged byte (user_timeout)
  move,      ///< a fail-back or reconnect_interval move is due
  poll,      ///< ask the kernel again whether all is acknowledged (drains)
  deadline,  ///< the shutdown deadline
};
inline constexpr std::size_t delivery_timer_count = 7;

/// How a connect, read or write on a link ended, as the shell saw it.
enum class link_error : std::uint8_t {
  none,
  closed,     ///< the peer's FIN (end of file)
  reset,      ///< a reset or a broken pipe
  timed_out,  ///< the kernel's TCP_USER_TIMEOUT or keepalive; a connect timeout
  aborted,    ///< the link was closed here (our own close or cancel)
  other,
};

/// Why the machine asks the kernel about a link's acknowledgements.
enum class snapshot_purpose : std::uint8_t {
  ack_check,  ///< the ack timer fired: is the oldest unacknowledged byte too old?
  drain,      ///< a drain waits until everything written is acknowledged
};

/// What a close does with bytes the peer never acknowledged.
enum class close_mode : std::uint8_t {
  orderly,           ///< a plain close: the kernel may still deliver them
  reset_if_unacked,  ///< a reset: they go back to the buffer and must not arrive late, twice
};

/// Whether an arming replaces one already pending.
enum class arming : std::uint8_t {
  replace,       ///< fires at the new time only
  unless_armed,  ///< left as it is if already pending
};

/// Events: what happened, fed to delivery_fsm::on() with the time it was seen.
namespace event {
struct start {};  ///< run() began
struct wake {};   ///< lines were added to the buffer
struct finish {   ///< deliver what is buffered by `deadline`, then end
  delivery_clock::time_point deadline;
};
struct connected {  ///< `link` is connected to `peer` (the address reached)
  link_id link;
  std::string peer;
};
struct connect_failed {
  link_id link;
  std::string why;
};
struct wrote {  ///< a write on `link` ended: `bytes` taken, then `error`
  link_id link;
  std::size_t bytes;
  link_error error = link_error::none;
  std::string why;
};
struct peer_closed {  ///< the read kept pending on `link` ended
  link_id link;
  link_error error;
  std::string why;
};
struct timer_fired {
  delivery_timer timer;
};
struct ack_snapshot {  ///< the answer to a snapshot action
  link_id link;
  snapshot_purpose purpose;
  unacked_bytes unacked;
  /// When the last ACK arrived; nullopt when the kernel could not tell.
  std::optional<delivery_clock::time_point> last_ack;
};
struct closed {  ///< `link` was closed with `unacked` bytes unacknowledged
  link_id link;
  unacked_bytes unacked;
};
}  // namespace event

struct delivery_event {
  using clock = delivery_clock;
  std::variant<event::start, event::wake, event::finish, event::connected, event::connect_failed,
               event::wrote, event::peer_closed, event::timer_fired, event::ack_snapshot,
               event::closed>
      what;

  static delivery_event start() { return {event::start{}}; }
  static delivery_event wake() { return {event::wake{}}; }
  static delivery_event finish(clock::time_point deadline) { return {event::finish{deadline}}; }
  static delivery_event connected(link_id link, std::string peer);
  static delivery_event connect_failed(link_id link, std::string why);
  static delivery_event wrote(link_id link, std::size_t bytes, link_error error = link_error::none,
                              std::string why = {});
  static delivery_event peer_closed(link_id link, link_error error, std::string why = {});
  static delivery_event fired(delivery_timer timer) { return {event::timer_fired{timer}}; }
  static delivery_event ack_snapshot(link_id link, snapshot_purpose purpose, unacked_bytes unacked,
                                     std::optional<clock::time_point> last_ack);
  static delivery_event closed(link_id link, unacked_bytes unacked) {
    return {event::closed{link, unacked}};
  }
};

/// How the machine learnt that a connection was gone.
enum class loss_noticed : std::uint8_t {
  by_read,         ///< the read kept pending ended (FIN, reset, kernel timeout)
  by_write,        ///< a write failed
  by_ack_check,    ///< bytes unacknowledged for user_timeout with no ACK since
  by_stall_timer,  ///< a write made no progress for stall_timeout
};

/// Why a connection ended, and the figures or the system's words for it.
struct connection_loss {
  disconnect_cause cause;
  loss_noticed how;
  /// by_read, by_write: the system's words ("Connection reset by peer").
  std::string error{};
  /// by_ack_check: the bytes never acknowledged, how long ago the oldest
  /// was written, and user_timeout; by_stall_timer: stall_timeout in `limit`.
  std::size_t unacked = 0;
  std::chrono::milliseconds waited{0}, limit{0};

  /// The peer ended it on purpose (its FIN or reset: carbon stopping),
  /// rather than the network or a timeout.
  bool by_peer() const {
    return cause == disconnect_cause::closed_by_peer || cause == disconnect_cause::reset;
  }
  bool operator==(const connection_loss&) const = default;
};

/// Why the connection moves to another (or a new) one, make-before-break.
enum class move_reason : std::uint8_t { fail_back, reconnect_interval };

/// One destination that refused a connection attempt, and why.
struct attempt_failure {
  std::size_t destination;
  std::string why;
  bool operator==(const attempt_failure&) const = default;
};

/// Reports: what the machine wants logged. The shell formats them
/// (describe()); tests look at the reason and its fields.
namespace report {
struct connected {  ///< the first connection, or one after a clean move
  std::size_t destination;
  std::string peer;
};
struct reconnected {  ///< connected again after an outage
  std::size_t destination;
  std::string peer;
  std::uint64_t failed_attempts;
  delivery_clock::duration outage;
  std::size_t buffered_lines;
};
struct cannot_connect {  ///< every destination failed; logged once per outage or change
  std::vector<attempt_failure> failures;
};
struct next_attempt {
  std::chrono::milliseconds in;
};
struct move_failed {  ///< a move's new connection failed: staying
  std::size_t from, to;
  std::string why;
};
struct moved {
  std::size_t from, to;
  move_reason why;
};
struct lost {  ///< a connection ended; reconnecting
  std::size_t destination;
  connection_loss loss;
};
struct replaying {  ///< lines put back to be sent again
  std::size_t lines, bytes;
};
struct replay_truncated {  ///< bytes to re-send were older than the history kept
  std::uint64_t bytes;
};
struct undelivered {  ///< the run ended with lines still buffered
  std::size_t lines;
};
}  // namespace report

using delivery_report =
    std::variant<report::connected, report::reconnected, report::cannot_connect,
                 report::next_attempt, report::move_failed, report::moved, report::lost,
                 report::replaying, report::replay_truncated, report::undelivered>;

enum class report_level : std::uint8_t { debug, info, warn };
report_level level_of(const delivery_report& r);
/// The log line for `r`; destinations by index into `destinations`.
std::string describe(const delivery_report& r, const std::vector<std::string>& destinations);

/// Actions: what the shell carries out, in order.
namespace action {
struct connect {  ///< open `link` to destination `destination` -> connected / connect_failed
  link_id link;
  std::size_t destination;
};
struct watch {  ///< keep a read pending on `link`, to notice its end -> peer_closed
  link_id link;
};
struct write {  ///< write (some of) `data` on `link` -> wrote
  link_id link;
  std::string_view data;
};
struct snapshot {  ///< ask the kernel about `link`'s acknowledgements -> ack_snapshot
  link_id link;
  snapshot_purpose purpose;
};
struct shutdown_send {  ///< send a FIN on `link`
  link_id link;
};
struct close {  ///< close `link` -> closed
  link_id link;
  close_mode mode;
};
struct arm_timer {  ///< `timer` fires at `at`
  delivery_timer timer;
  delivery_clock::time_point at;
  arming how = arming::replace;
};
struct cancel_timer {
  delivery_timer timer;
};
struct log {
  delivery_report what;
};
struct done {};  ///< run() may return
}  // namespace action

struct delivery_action {
  std::variant<action::connect, action::watch, action::write, action::snapshot,
               action::shutdown_send, action::close, action::arm_timer, action::cancel_timer,
               action::log, action::done>
      what;
};

}  // namespace sockpush
