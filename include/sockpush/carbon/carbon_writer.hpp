// The one long-lived connection to carbon: the I/O shell around
// delivery_fsm, which makes every decision (where to connect, when a
// connection is dead, what is sent again, when a drain is over). The shell
// owns the sockets, the timers and the resolvers, turns what they report
// into events, and carries out the actions that come back. How the bytes
// go over a socket, plain or TLS, is its transport's business.
//
// Actors (all on one io_context thread):
//
//   connect(link)  resolve, then connect to each address in turn, each
//                  bounded by connect_timeout (the TLS handshake included)
//                  -> connected / connect_failed
//   watch(link)    one read kept pending; carbon never sends anything, so
//                  its end (FIN, RST, error) means the connection is gone
//   writes         one transport write at a time -> wrote
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
#include "sockpush/carbon/transport.hpp"
#include "sockpush/common/asio.hpp"

namespace sockpush {

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
  std::size_t pending_bytes() const override { return fsm_.pending_bytes(); }
  std::vector<destination_stats> destinations() const override;

 private:
  using clock = std::chrono::steady_clock;
  struct link;
  /// One of the machine's timers, and whether a wait on it is pending.
  struct timer {
    asio::steady_timer wait;
    std::uint64_t generation = 0;
    bool armed = false;
  };

  /// Queues `event` and, unless already doing so, feeds the queue to the
  /// machine and carries out its actions.
  void feed(delivery_event event);
  void perform(const delivery_action& action);
  std::shared_ptr<link> find(link_id id) const;

  void start_connect(const action::connect& a);
  asio::awaitable<void> connect(std::shared_ptr<link> l);
  void connect_failed(const std::shared_ptr<link>& l, std::string why);
  asio::awaitable<void> watch(std::shared_ptr<link> l);
  void write(const action::write& a);
  void snapshot(const action::snapshot& a);
  void close(const action::close& a);
  void arm(const action::arm_timer& a);
  void cancel(delivery_timer which);
  void apply_socket_options(asio::ip::tcp::socket& socket) const;

  asio::io_context& io_;
  carbon_config cfg_;
  delivery_fsm fsm_;
  transport_maker transports_;
  /// The links not yet closed (the live one, a move's next one); a closed
  /// link lives on in the handlers still holding it.
  std::vector<std::shared_ptr<link>> links_;
  std::vector<timer> timers_;
  /// At time_point::max(); run() sleeps on it until the machine is done.
  asio::steady_timer done_timer_;
  std::deque<delivery_event> events_;
  bool feeding_ = false;
};

}  // namespace sockpush
