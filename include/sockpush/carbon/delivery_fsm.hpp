// Every decision about delivering the buffered lines to carbon, without any
// I/O (sans-io, after Boost.Redis's writer_fsm): the I/O shell
// (carbon_writer) feeds in what happened (an event, and the time it saw it)
// and carries out what comes back (actions, in order; delivery_events.hpp).
// Time is never read here, so every path can be driven and checked with no
// socket at all.
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
//   failure, also everything written replay_seconds before it; when the
//   peer itself ended it (carbon stopping), peer_close_replay_seconds too.
// - Moves (fail-back to an earlier destination, reconnect_interval) are
//   make-before-break: the new connection is up before the old one gets a
//   FIN and is drained; only what it never acknowledged is sent again.
// - Finishing (SIGTERM, --once, end of `send` input, reload): write what is
//   buffered, wait for the acknowledgements, close; at the deadline give up
//   whatever is under way, and put back what was never acknowledged.
//
// The handlers live in three files: delivery_fsm.cpp (events, timers and
// the end of a run), delivery_connecting.cpp (connecting, failover, moves)
// and delivery_writing.cpp (writing, lost connections, drains, replay).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/carbon/backoff.hpp"
#include "sockpush/carbon/carbon_config.hpp"
#include "sockpush/carbon/delivery_events.hpp"
#include "sockpush/carbon/destination_order.hpp"
#include "sockpush/carbon/write_history.hpp"
#include "sockpush/carbon/writer_stats.hpp"

namespace sockpush {

enum class delivery_phase : std::uint8_t {
  idle,           ///< run() has not started
  connecting,     ///< trying the destinations in order
  backing_off,    ///< waiting before the next round of attempts
  connected,      ///< waiting for lines (or for flush_delay)
  writing,        ///< a batch is being written
  moving,         ///< connected; a second connection is being made (make-before-break)
  draining_move,  ///< the old connection got a FIN; waiting for its acknowledgements
  final_drain,    ///< finishing, all written: waiting for the acknowledgements
  closing,        ///< a connection is closed; waiting for it (and its last write) to settle
  done,           ///< run() may return
};
inline constexpr std::size_t delivery_phase_count = 10;
std::string_view to_string(delivery_phase phase);

class delivery_fsm {
 public:
  using clock = delivery_clock;

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
  /// The connection lines go to now, while there is one.
  std::optional<link_id> live_link() const { return connected() ? live_ : std::nullopt; }
  const writer_stats& stats() const { return stats_; }
  std::vector<destination_stats> destinations() const;
  /// Lines taken from the buffer and being written.
  std::size_t pending_lines() const { return batch_ ? batch_->lines : 0; }
  /// Bytes of that batch not yet in the kernel.
  std::size_t pending_bytes() const { return batch_ ? batch_->data.size() - batch_->written : 0; }
  const std::vector<carbon_destination>& destination_list() const { return destinations_; }
  /// The destinations as log lines name them ("host:port"), by index.
  const std::vector<std::string>& destination_names() const { return names_; }

  /// The links the machine is dealing with, for tests and logs.
  struct link_roles {
    std::optional<link_id> live;      ///< connected, or being connected
    std::optional<link_id> spare;     ///< a move's next connection
    std::optional<link_id> retiring;  ///< closed; its `closed` is awaited
    std::optional<link_id> writing;   ///< a write is under way on it
  };
  link_roles links() const;

 private:
  /// What happens once a closed connection (and its last write) settled.
  enum class then : std::uint8_t {
    reconnect,               ///< it was lost: back off, then connect again
    finish_if_acknowledged,  ///< lost in the final drain: done if nothing was left unacknowledged
    finish,                  ///< drained at the end of the run
    promote_spare,           ///< a move's old connection: the spare takes over
  };
  /// The live link, closed: what follows once it (and its last write) settled.
  struct retiring_link {
    std::optional<link_id> awaiting_closed;  ///< nullopt once its `closed` came
    then next;
  };
  /// How the live connection ends.
  enum class ending : std::uint8_t {
    drained,  ///< everything written: a FIN, and a reset only if bytes are unacknowledged
    lost,     ///< it is gone already: a plain close
  };
  /// What goes back to the buffer when a connection ended.
  enum class replay_scope : std::uint8_t {
    unacknowledged,  ///< what the kernel says the peer never acknowledged
    after_failure,   ///< that, and the replay windows before the failure
  };
  /// The batch being written: taken from the buffer, `written` bytes of it
  /// in the kernel so far, on `link`.
  struct batch {
    std::string data;
    std::size_t lines = 0;
    std::size_t written = 0;
    link_id link = 0;
  };
  /// A move under way: where to, why, and the address its connection reached.
  struct move {
    std::size_t target;
    move_reason why;
    std::string spare_peer;
  };
  /// An outage as logged: when it began and what was last reported.
  struct outage {
    clock::time_point since;
    std::vector<attempt_failure> reported;
  };
  /// The last connection that ended and when (for replay and the log).
  struct loss_record {
    connection_loss loss;
    clock::time_point at;
  };

  // Events, timers and the end of a run (delivery_fsm.cpp).
  void on_finish(clock::time_point deadline, clock::time_point now);
  void on_timer(delivery_timer timer, clock::time_point now);
  void on_ack_snapshot(const event::ack_snapshot& e, clock::time_point now);
  void on_closed(const event::closed& e, clock::time_point now);
  void give_up();
  void end_without_connection();
  void finish_run();

  // Connecting, failover and moves (delivery_connecting.cpp).
  void on_start(clock::time_point now);
  void on_connected(const event::connected& e, clock::time_point now);
  void on_connect_failed(const event::connect_failed& e, clock::time_point now);
  void next_attempt(clock::time_point now);
  void connect_to(std::size_t destination);
  void retry_later(clock::time_point now);
  void start_connection(const std::string& peer, clock::time_point now);
  void arm_move_timer(clock::time_point now);
  bool begin_move(clock::time_point now);
  void spare_connected(clock::time_point now);
  void spare_failed(const std::string& why, clock::time_point now);
  void promote_spare(clock::time_point now);

  // Writing, lost connections, drains and replay (delivery_writing.cpp).
  void pump(clock::time_point now);
  bool wait_for_more(clock::time_point now);
  void write_batch(clock::time_point now);
  void write_rest(clock::time_point now);
  void on_wrote(const event::wrote& e, clock::time_point now);
  void complete_batch();
  void settle_batch();
  void check_acknowledgements(const event::ack_snapshot& e, clock::time_point now);
  void on_peer_closed(const event::peer_closed& e, clock::time_point now);
  void drop(connection_loss loss, clock::time_point now);
  void close_live(ending how, then next);
  void after_close(clock::time_point now);
  void after_loss(clock::time_point now);
  void replay(replay_scope scope);
  void begin_final_drain();

  // Small helpers.
  bool connected() const;
  bool finishing() const { return deadline_.has_value(); }
  bool past_deadline(clock::time_point now) const { return deadline_ && now >= *deadline_; }
  link_id new_link() { return ++last_link_; }
  void emit(delivery_action action) { actions_.push_back(std::move(action)); }
  void arm(delivery_timer timer, clock::time_point at, arming how = arming::replace);
  void cancel(delivery_timer timer);
  void log(delivery_report what);
  void close_link(link_id link, close_mode mode);
  void snapshot(link_id link, snapshot_purpose purpose);

  carbon_config cfg_;
  std::vector<carbon_destination> destinations_;
  std::vector<std::string> names_;
  line_buffer& buffer_;
  destination_order order_;
  backoff backoff_;
  write_history history_;
  std::vector<delivery_action> actions_;
  delivery_phase phase_ = delivery_phase::idle;
  link_id last_link_ = 0;

  /// The connection (or attempt) lines go to, and its destination.
  std::optional<link_id> live_;
  std::size_t current_ = 0;
  /// A move: its next connection (once asked for), and the move itself.
  std::optional<link_id> spare_;
  std::optional<move> move_;
  /// A move became due while a write was under way: it starts after it.
  bool move_due_ = false;
  std::optional<retiring_link> retiring_;
  std::vector<attempt_failure> attempt_failures_;
  clock::time_point connected_at_{};
  clock::time_point drain_until_{};

  std::optional<batch> batch_;
  std::optional<clock::time_point> flush_due_;

  std::optional<loss_record> last_loss_;
  /// Unacknowledged bytes when the last connection was closed (nullopt:
  /// unknown, or none closed yet). Zero means everything written had arrived.
  unacked_bytes unacked_at_close_;

  /// Set by finish: deliver by then.
  std::optional<clock::time_point> deadline_;
  bool all_acknowledged_ = false;

  std::optional<outage> outage_;
  std::vector<bool> ever_connected_to_;

  writer_stats stats_;
  std::vector<destination_stats> destination_stats_;
};

}  // namespace sockpush
