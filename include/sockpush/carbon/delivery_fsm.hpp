// Every decision about delivering the buffered lines to carbon, without any
// I/O (sans-io, after Boost.Redis's writer_fsm): the I/O shell
// (carbon_writer) feeds in what happened (an event, and the time it saw it)
// and carries out what comes back (actions, in order). Time is never read
// here, so every path can be driven and checked with no socket at all.
//
// Phases of one run:
//
//   idle --start--> connecting --connected--> connected <--> writing
//                     |    ^                    |  |
//              all failed  retry timer          |  +-- move due: moving --> draining_move
//                     v    |                    |                                |
//                   backing_off <-- closing <---+-- finish, buffer empty:   connected
//                                    (lost)         final_drain --> closing --> done
//
// - Connecting: destinations in failover order (destination_order); one
//   that fails is passed over for hold_down; after a round that all fail,
//   a jittered backoff.
// - Writing: batches taken from the buffer; with flush_delay a short batch
//   waits for more. A write that makes no progress for stall_timeout, bytes
//   unacknowledged for user_timeout with no ACK since, or the peer closing
//   or resetting, end the connection (closing, then backing_off).
// - What goes back to the buffer when a connection ends (write_history):
//   the lines the kernel says the peer never acknowledged; after a
//   failure, also everything written replay_window before it; when the
//   peer itself ended it (carbon stopping), peer_close_replay too.
// - Moves (fail-back to an earlier destination, reconnect_interval) are
//   make-before-break: the new connection is up before the old one gets a
//   FIN and is drained; only what it never acknowledged is sent again.
// - Finishing (SIGTERM, --once, end of `send` input, reload): write what is
//   buffered, wait for the acknowledgements, close; at the deadline give up
//   whatever is under way, and put back what was never acknowledged.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/carbon/backoff.hpp"
#include "sockpush/carbon/carbon_config.hpp"
#include "sockpush/carbon/destination_order.hpp"
#include "sockpush/carbon/write_history.hpp"
#include "sockpush/carbon/writer_stats.hpp"

namespace sockpush {

/// One connection (or attempt at one); 0 is none. Never reused.
using link_id = std::uint64_t;

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

/// Why a connection ended (self-metrics: sockpush.disconnects.*).
enum class disconnect_cause : std::uint8_t { closed_by_peer, reset, timed_out, stalled, other };

enum class delivery_phase : std::uint8_t {
  idle,           ///< run() has not started
  connecting,     ///< trying the destinations in order
  backing_off,    ///< waiting before the next round of attempts
  connected,      ///< waiting for lines (or for flush_delay)
  writing,        ///< a batch is being written
  moving,         ///< connected; a second connection is being made (make-before-break)
  draining_move,  ///< the old connection got a FIN; waiting for its acknowledgements
  final_drain,    ///< finishing, all written: waiting for the acknowledgements
  closing,        ///< a connection is closed; waiting for its last write to settle
  done,           ///< run() may return
};
inline constexpr std::size_t delivery_phase_count = 10;
std::string_view to_string(delivery_phase phase);

struct delivery_event {
  using clock = std::chrono::steady_clock;
  enum class kind : std::uint8_t {
    start,           ///< run() began
    wake,            ///< lines were added to the buffer
    finish,          ///< deliver what is buffered by `at`, then end
    connected,       ///< `link` is connected; `detail`: the address it reached
    connect_failed,  ///< `link` could not connect; `detail` says why
    wrote,           ///< a write on `link` ended: `bytes` taken, `error`
    peer_closed,     ///< the read kept pending on `link` ended with `error`
    timer,           ///< `timer` fired
    ack_snapshot,    ///< `link`: `unacked` bytes, last ACK at `last_ack`
    closed,          ///< `link` was closed with `unacked` bytes unacknowledged
  };
  kind what = kind::start;
  link_id link = 0;
  std::size_t bytes = 0;
  link_error error = link_error::none;
  std::string detail;
  delivery_timer timer = delivery_timer::retry;
  clock::time_point at{};
  /// Bytes written and not acknowledged (SIOCOUTQ); -1: the kernel cannot tell.
  int unacked = -1;
  std::optional<clock::time_point> last_ack;

  explicit delivery_event(kind what_ = kind::start, link_id link_ = 0) : what(what_), link(link_) {}
  static delivery_event start() { return delivery_event{}; }
  static delivery_event wake() { return delivery_event{kind::wake}; }
  static delivery_event finish(clock::time_point deadline);
  static delivery_event connected(link_id link, std::string peer);
  static delivery_event connect_failed(link_id link, std::string why);
  static delivery_event wrote(link_id link, std::size_t bytes, link_error error = link_error::none,
                              std::string why = {});
  static delivery_event peer_closed(link_id link, link_error error, std::string why = {});
  static delivery_event fired(delivery_timer timer);
  static delivery_event ack_snapshot(link_id link, int unacked,
                                     std::optional<clock::time_point> last_ack);
  static delivery_event closed(link_id link, int unacked);
};

enum class report_level : std::uint8_t { debug, info, warn };

struct delivery_action {
  using clock = std::chrono::steady_clock;
  enum class kind : std::uint8_t {
    connect,        ///< open `link` to destination `destination` -> connected / connect_failed
    watch,          ///< keep a read pending on `link`, to notice its end -> peer_closed
    write,          ///< write (some of) `data` on `link` -> wrote
    snapshot,       ///< ask the kernel about `link`'s acknowledgements -> ack_snapshot
    shutdown_send,  ///< send a FIN on `link`
    close,          ///< close `link` (`discard`: reset if bytes are unacknowledged) -> closed
    arm_timer,      ///< `timer` fires at `at`, replacing any earlier arming
    cancel_timer,   ///< `timer` does not fire
    report,         ///< log `text` at `level`
    done,           ///< run() may return
  };
  explicit delivery_action(kind what_, link_id link_ = 0) : what(what_), link(link_) {}
  kind what;
  link_id link = 0;
  std::size_t destination = 0;
  std::string_view data;
  bool discard = false;
  delivery_timer timer = delivery_timer::retry;
  clock::time_point at{};
  report_level level = report_level::info;
  std::string text;
};

class delivery_fsm {
 public:
  using clock = std::chrono::steady_clock;

  /// Largest batch per write: big enough that one round is one write, small
  /// enough that a failed write puts back little.
  static constexpr std::size_t max_batch_bytes = 256 * 1024;
  /// With flush_delay, this much buffered is written without waiting longer.
  static constexpr std::size_t flush_bytes = 16 * 1024;
  /// How often a drain asks the kernel whether all is acknowledged.
  static constexpr std::chrono::milliseconds ack_poll_interval{10};

  /// `destinations` in order of preference (at least one); `seed` drives
  /// the backoff jitter.
  delivery_fsm(const carbon_config& cfg, std::vector<carbon_destination> destinations,
               line_buffer& buffer, std::uint64_t seed);

  /// Takes one event that happened at `now`; returns what to do, in order
  /// (valid until the next call).
  const std::vector<delivery_action>& on(const delivery_event& event, clock::time_point now);

  delivery_phase phase() const { return phase_; }
  bool done() const { return phase_ == delivery_phase::done; }
  /// After done(): everything taken from the buffer was acknowledged by the
  /// peer's TCP and the buffer is empty.
  bool delivered() const { return all_acknowledged_ && buffer_.empty(); }
  /// The connection lines go to now; 0 while there is none.
  link_id live_link() const { return connected() ? live_ : 0; }
  const writer_stats& stats() const { return stats_; }
  std::vector<destination_stats> destinations() const;
  /// Lines taken from the buffer and being written.
  std::size_t pending_lines() const { return in_flight_lines_; }
  const std::vector<carbon_destination>& destination_list() const { return destinations_; }

  /// The links the machine is dealing with (0: none), for tests and logs.
  struct link_roles {
    link_id live = 0;     ///< connected, or being connected
    link_id spare = 0;    ///< a move's next connection
    link_id closing = 0;  ///< closed; its `closed` is awaited
    link_id writing = 0;  ///< a write is under way on it
  };
  link_roles links() const { return {live_, spare_, closing_, writing_link_}; }

 private:
  /// What happens once a closed connection (and its last write) settled.
  enum class then : std::uint8_t { reconnect, finish_if_acknowledged, finish };

  // Handlers of events, by phase (delivery_fsm.cpp).
  void on_start(clock::time_point now);
  void on_finish(clock::time_point deadline, clock::time_point now);
  void on_connected(const delivery_event& e, clock::time_point now);
  void on_connect_failed(const delivery_event& e, clock::time_point now);
  void on_wrote(const delivery_event& e, clock::time_point now);
  void on_peer_closed(const delivery_event& e, clock::time_point now);
  void on_timer(delivery_timer timer, clock::time_point now);
  void on_ack_snapshot(const delivery_event& e, clock::time_point now);
  void on_closed(const delivery_event& e, clock::time_point now);

  // Connecting and failover (delivery_fsm.cpp).
  void next_attempt(clock::time_point now);
  void connect_to(std::size_t destination);
  void retry_later(clock::time_point now);
  void start_connection(clock::time_point now);
  void arm_move_timer(clock::time_point now);
  bool begin_move(clock::time_point now);
  void spare_connected(clock::time_point now);
  void spare_failed(const std::string& why, clock::time_point now);
  void promote_spare(clock::time_point now);

  // Writing, dead connections, drains and replay (delivery_fsm_delivery.cpp).
  void pump(clock::time_point now);
  bool wait_for_more(clock::time_point now);
  void write_batch(clock::time_point now);
  void write_rest(clock::time_point now);
  void complete_batch();
  void settle_batch();
  void check_acknowledgements(const delivery_event& e, clock::time_point now);
  void drop(disconnect_cause cause, std::string reason, bool by_peer, clock::time_point now);
  void close_live(bool graceful, then next);
  void after_close(clock::time_point now);
  void after_loss(clock::time_point now);
  void begin_final_drain();
  void give_up();
  void replay(bool after_failure);
  void end_without_connection();
  void finish_run();

  // Small helpers.
  bool connected() const;
  bool past_deadline(clock::time_point now) const { return finishing_ && now >= deadline_; }
  link_id new_link() { return ++last_link_; }
  void emit(delivery_action action) { actions_.push_back(std::move(action)); }
  void arm(delivery_timer timer, clock::time_point at);
  void cancel(delivery_timer timer);
  void report(report_level level, std::string text);
  void close_link(link_id link, bool discard);
  std::string describe() const;

  carbon_config cfg_;
  std::vector<carbon_destination> destinations_;
  line_buffer& buffer_;
  destination_order order_;
  backoff backoff_;
  write_history history_;
  std::vector<delivery_action> actions_;
  delivery_phase phase_ = delivery_phase::idle;
  link_id last_link_ = 0;

  /// The connection (or attempt) lines go to, and a move's next one.
  link_id live_ = 0;
  link_id spare_ = 0;
  /// The link whose `closed` is awaited, and what follows once it came.
  link_id closing_ = 0;
  then after_close_ = then::reconnect;
  /// Destination of live_ (or the one being tried), and a move's target.
  std::size_t current_ = 0;
  std::size_t move_target_ = 0;
  std::string peer_address_;
  std::string connect_failures_;
  clock::time_point connected_at_{};
  bool move_due_ = false;
  clock::time_point drain_until_{};

  /// The batch being written: taken from the buffer, `written_` bytes of
  /// it in the kernel so far, on `writing_link_` (0: no write under way).
  std::string in_flight_;
  std::size_t in_flight_lines_ = 0;
  std::size_t written_ = 0;
  link_id writing_link_ = 0;
  std::optional<clock::time_point> flush_due_;
  bool ack_timer_armed_ = false;
  bool ack_check_due_ = false;

  /// Why and how the last connection ended.
  std::string lost_reason_;
  bool closed_by_peer_ = false;
  clock::time_point failed_at_{};
  /// Unacknowledged bytes when the last connection was closed (-1: unknown
  /// or none closed yet). Zero means everything written had arrived.
  int unacked_at_close_ = -1;

  bool finishing_ = false;
  clock::time_point deadline_{};
  bool all_acknowledged_ = false;

  /// For logs: an outage is reported once, and its end with its length.
  bool logged_down_ = false;
  std::string last_failure_;
  clock::time_point down_since_{};
  bool ever_connected_ = false;
  std::vector<bool> ever_connected_to_;

  writer_stats stats_;
  std::vector<destination_stats> destination_stats_;
};

}  // namespace sockpush
