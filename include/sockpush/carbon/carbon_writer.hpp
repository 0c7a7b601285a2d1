// The one long-lived connection to carbon: the I/O shell around
// delivery_fsm, which makes every decision (where to connect, when a
// connection is dead, what is sent again, when a drain is over). The shell
// owns the sockets, the timers and the resolvers, turns what they report
// into events, and carries out the actions that come back.
//
// Actors (all on one io_context thread):
//
//   connect(link)  resolve, then connect to each address in turn, each
//                  bounded by connect_timeout -> connected / connect_failed
//   watch(link)    one read kept pending; carbon never sends anything, so
//                  its end (FIN, RST, error) means the connection is gone
//   writes         one async_write_some at a time -> wrote
//   timers         one per delivery_timer; a generation number makes an
//                  expiry that raced with a re-arm or cancel harmless
//   the kernel     SIOCOUTQ (bytes unacknowledged, still answered after a
//                  reset) and TCP_INFO (last ACK), asked when the machine
//                  wants a snapshot or closes a link
//
// Events the shell produces while carrying out actions (a snapshot, a
// close) are queued and fed after the current ones, in order.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/carbon/carbon_config.hpp"
#include "sockpush/carbon/delivery_fsm.hpp"
#include "sockpush/carbon/line_writer.hpp"
#include "sockpush/common/asio.hpp"

namespace sockpush {

class tls_client;

class carbon_writer final : public line_writer {
 public:
  /// `destinations` in order of preference (at least one).
  carbon_writer(asio::io_context& io, const carbon_config& cfg,
                std::vector<carbon_destination> destinations, line_buffer& buffer);
  ~carbon_writer() override;

  asio::awaitable<void> run() override;
  void wake() override { feed(delivery_event::wake()); }
  void finish(std::chrono::steady_clock::time_point deadline) override {
    feed(delivery_event::finish(deadline));
  }
  bool delivered() const override { return fsm_.delivered(); }

  writer_stats stats() const override;
  connection_info connection() const override;
  std::size_t pending_lines() const override { return fsm_.pending_lines(); }
  std::vector<destination_stats> destinations() const override { return fsm_.destinations(); }

 private:
  using clock = std::chrono::steady_clock;
  struct link;

  /// Queues `event` and, unless already doing so, feeds the queue to the
  /// machine and carries out its actions.
  void feed(delivery_event event);
  void perform(const delivery_action& action);
  std::shared_ptr<link> find(link_id id) const;

  asio::awaitable<void> connect(std::shared_ptr<link> l, std::size_t destination);
  asio::awaitable<void> watch(std::shared_ptr<link> l);
#if SOCKPUSH_TLS
  /// TLS over `l`'s connected socket; false (and the attempt reported
  /// failed) when the handshake or the certificate check failed.
  asio::awaitable<bool> handshake(link& l, const std::string& host,
                                  const asio::ip::address& address, const bool& timed_out);
#endif
  void write(const std::shared_ptr<link>& l, std::string_view data);
  void snapshot(link_id id);
  void close(link_id id, bool discard);
  void arm(delivery_timer timer, clock::time_point at);
  void cancel(delivery_timer timer);
  void apply_socket_options(asio::ip::tcp::socket& socket) const;

  asio::io_context& io_;
  carbon_config cfg_;
  delivery_fsm fsm_;
  /// The links not yet closed (the live one, a move's next one); a closed
  /// link lives on in the handlers still holding it.
  std::vector<std::shared_ptr<link>> links_;
  std::vector<asio::steady_timer> timers_;
  std::array<std::uint64_t, delivery_timer_count> timer_generation_{};
  /// At time_point::max(); run() sleeps on it until the machine is done.
  asio::steady_timer done_timer_;
  std::deque<delivery_event> events_;
  bool feeding_ = false;
#if SOCKPUSH_TLS
  std::unique_ptr<tls_client> tls_;
#endif
  std::array<std::uint64_t, tls_failure_count> tls_failures_{};
};

}  // namespace sockpush
