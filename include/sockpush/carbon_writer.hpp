// The one long-lived connection to carbon.
//
// With several destinations (failover) it is still one connection, to the
// first destination that works; one that failed is passed over for
// hold_down. While connected to a later one, the earlier ones are tried
// again every hold_down and, once one answers, the connection moves back.
// A move (also every reconnect_interval) is make-before-break: the new
// connection is up before the old one is drained (FIN after everything is
// acknowledged) and closed; what the old one never got acknowledged is sent
// again on the new one.
//
// Actors (all on one io_context thread, as C++20 coroutines):
//
//   run()            connect -> write until the connection fails -> back off -> connect ...
//   watch_peer()     one read kept pending on the connection; carbon never
//                    sends anything, so any completion (FIN, RST, error) means
//                    the connection is gone: close it and wake run()
//   connect timer    closes the socket if connect() takes longer than allowed
//   wake timer       a timer at time_point::max() that run() sleeps on while
//                    the buffer is empty; wake() and watch_peer() cancel it
//   backoff timer    the pause between attempts; only finish() cuts it short
//
//   move timer       fires when a move is due (fail-back, reconnect_interval)
//                    and wakes run(), which tries it between two writes
//   stall timer      armed around every write; a write that makes no progress
//                    for stall_timeout (a peer that stopped reading) ends the
//                    connection
//   ack timer        armed after a write while none is pending: bytes written
//                    user_timeout ago, unacknowledged, with no ACK of any kind
//                    since, end the connection on time. The kernel's own
//                    TCP_USER_TIMEOUT (also set) fires only at its next
//                    retransmission timer, ~0.2 s late here, later on older
//                    kernels; it stays as the backstop.
//
// Lines leave the buffer only in batches that are being written; a failed
// write puts the unwritten part back, from the start of the line holding the
// first unwritten byte, so nothing is split and nothing is skipped.
//
// What was written is also kept in a history (about two send buffers, plus
// the replay window's worth). When a connection fails, the kernel says how
// many written bytes the peer never acknowledged (SIOCOUTQ, still answered
// after a reset); those lines, and with replay_seconds everything written
// that long before the failure, go back to the front of the buffer. When
// carbon itself ends the connection (it is stopping), the last
// peer_close_replay seconds go back too: carbon-cache drops what it read
// since its last write pass, after its TCP acknowledged it. Carbon
// overwrites a duplicate (metric, timestamp) point, so re-sending is safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sockpush/address.hpp"
#include "sockpush/asio.hpp"
#include "sockpush/backoff.hpp"
#include "sockpush/config.hpp"
#include "sockpush/line_buffer.hpp"
#include "sockpush/line_writer.hpp"

namespace sockpush {

class carbon_writer final : public line_writer {
 public:
  /// `destinations` in order of preference (at least one).
  carbon_writer(asio::io_context& io, const carbon_config& cfg,
                std::vector<carbon_destination> destinations, line_buffer& buffer);

  asio::awaitable<void> run() override;
  void wake() override;
  void finish(std::chrono::steady_clock::time_point deadline) override;
  bool delivered() const override;

  bool connected() const { return socket_.is_open(); }
  connection_info connection() const override;
  std::size_t pending_lines() const override { return in_flight_lines_; }
  std::vector<destination_stats> destinations() const override;

 private:
  using clock = std::chrono::steady_clock;

  /// Resolves and connects `socket`; returns an empty string or the failure reason.
  asio::awaitable<std::string> connect(asio::ip::tcp::socket& socket, const host_port& where);
  /// Connects socket_ to the first destination not passed over (to any, if
  /// all are); sets current_. Returns an empty string or why none worked.
  asio::awaitable<std::string> connect_first_healthy();
  /// The socket_ just connected to current_: options, logs, counters, peer watch.
  void start_connection();
  /// A move is due: connects to the destination preferred now and, if that
  /// works, drains and closes the current connection and carries on there.
  asio::awaitable<void> move_connection();
  /// Arms move_timer_ for the next fail-back attempt or reconnect_interval.
  void arm_move_timer();
  /// The destination a connection should go to now: the first one not
  /// passed over, no later than current_.
  std::size_t preferred_destination() const;
  /// Writes batches while connected; returns the reason the connection ended
  /// (empty when it ended because finish() asked and all was written).
  asio::awaitable<std::string> write_while_connected();
  /// Pending read that notices the peer closing the connection.
  asio::awaitable<void> watch_peer(std::uint64_t connection_id);
  /// Polls SIOCOUTQ until the peer has acknowledged everything written on
  /// socket_ or `until` has passed; returns the bytes still unacknowledged
  /// (-1: the socket is closed or the kernel cannot tell).
  asio::awaitable<int> unacknowledged_after(clock::time_point until);
  /// Waits (bounded by the finish deadline) until the peer has acknowledged
  /// everything written, then shuts the connection down cleanly.
  asio::awaitable<void> close_gracefully();
  asio::awaitable<void> sleep_for(clock::duration d);
  /// Closes the connection (once; later calls do nothing). The caller has
  /// counted why in stats_. `by_peer`: the peer ended it (FIN or reset).
  void drop_connection(const std::string& reason, bool by_peer = false);
  /// Counts a connection that ended with `ec` under its reason.
  void count_disconnect(const error_code& ec);
  void arm_stall_timer(std::uint64_t connection_id);
  void arm_ack_timer(clock::time_point at);
  void disarm_ack_timer();
  /// The ack timer fired: ends the connection if the oldest unacknowledged
  /// byte was written user_timeout ago and nothing was acknowledged since,
  /// else arms the timer for the next moment that could be true.
  void check_acknowledgements();
  /// Keeps a batch just written (moved in, not copied) in the history;
  /// whole old batches leave once the rest covers the cap.
  void remember_written(std::string&& batch);
  /// After a connection ended: puts the unacknowledged (and, after a
  /// failure, replay-window) lines back at the front of the buffer, then
  /// starts a fresh history.
  void replay_unacknowledged(bool with_window);
  /// Byte number of the first write that started at or after `t`.
  std::uint64_t first_written_since(clock::time_point t) const;
  void apply_socket_options();
  /// The destinations as configured, for log lines.
  std::string describe() const;
  bool past_deadline() const { return finishing_ && clock::now() >= deadline_; }

  asio::io_context& io_;
  carbon_config cfg_;
  std::vector<carbon_destination> destinations_;
  /// Index of the destination socket_ is (or was last) connected to.
  std::size_t current_ = 0;
  /// Until when each destination is passed over after failing (failover).
  std::vector<clock::time_point> passed_over_until_;
  std::vector<destination_stats> destination_stats_;
  std::vector<bool> ever_connected_to_;
  line_buffer& buffer_;
  backoff backoff_;
  asio::ip::tcp::socket socket_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer wake_timer_;
  asio::steady_timer backoff_timer_;
  asio::steady_timer stall_timer_;
  asio::steady_timer move_timer_;
  asio::steady_timer ack_timer_;
  bool ack_timer_armed_ = false;
  /// flush_delay: when the lines now buffered must be written at the latest.
  std::optional<clock::time_point> flush_due_;
  bool move_due_ = false;
  clock::time_point connected_at_{};

  /// Bytes being written now; on failure their unwritten tail goes back.
  std::string in_flight_;
  std::size_t in_flight_lines_ = 0;
  /// Increments when a connect() completes, so a late timeout is ignored.
  std::uint64_t connect_attempt_ = 0;
  bool connect_timed_out_ = false;
  /// Increments per connection so stale completions can tell they are stale.
  std::uint64_t connection_id_ = 0;
  /// Why the current connection ended, as seen by watch_peer().
  std::string peer_close_reason_;
  /// The peer ended the current connection (FIN or reset), not a timeout.
  bool closed_by_peer_ = false;

  bool finishing_ = false;
  clock::time_point deadline_{};
  bool ever_connected_ = false;
  /// Connection state as last logged, so an outage logs once, not per attempt.
  bool logged_down_ = false;
  std::string last_failure_;
  clock::time_point down_since_{};
  bool all_acknowledged_ = false;
  /// Bytes the peer had not acknowledged when the last connection ended
  /// (-1: none ended yet). Zero means everything written had arrived, which
  /// matters when carbon closes right after taking our last line.
  int unacked_at_last_drop_ = -1;

  /// Written batches, oldest first; history_.front()[0] is byte number
  /// history_base_ of everything ever written, which is written_total_ bytes.
  std::deque<std::string> history_;
  std::size_t history_bytes_ = 0;
  /// A batch that left the history, reused for the next write.
  std::string spare_;
  std::uint64_t history_base_ = 0;
  std::uint64_t written_total_ = 0;
  std::size_t history_cap_;
  /// (when, byte number) at the start of each write, for the replay window.
  std::deque<std::pair<clock::time_point, std::uint64_t>> write_marks_;
  clock::time_point failed_at_{};
};

}  // namespace sockpush
