// A local listener ([[listen]]): scripts that used `nc localhost 2003` or
// bash's `> /dev/udp/127.0.0.1/2003` keep working, and their lines share the
// daemon's one connection to carbon. TCP and unix clients get back-pressure
// when the buffer fills; UDP datagrams cannot, and fall to the buffer's
// drop-oldest rule.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "sockpush/common/asio.hpp"
#include "sockpush/intake/intake_config.hpp"
#include "sockpush/intake/line_intake.hpp"
#include "sockpush/intake/listen_address.hpp"

namespace sockpush {

class listener {
 public:
  /// Binds at once, so a taken port fails the start, not some later moment.
  /// Throws std::runtime_error naming the address.
  listener(asio::io_context& io, const listen_config& cfg, line_intake& intake);
  ~listener();

  void start();
  /// Closes the listening socket and every client; lines already read stay.
  void stop();

  const std::string& name() const { return address_.text; }
  /// One path component: "tcp://127.0.0.1:2003" -> "tcp_127_0_0_1_2003".
  const std::string& metric_name() const { return metric_name_; }
  std::size_t clients() const { return closers_.size(); }
  std::uint64_t refused_clients() const { return refused_clients_; }

 private:
  template <typename Acceptor>
  asio::awaitable<void> accept_loop(Acceptor& acceptor);
  template <typename Socket>
  asio::awaitable<void> serve_client(Socket socket, std::string origin);
  asio::awaitable<void> receive_datagrams();

  asio::io_context& io_;
  listen_config cfg_;
  listen_address address_;
  std::string metric_name_;
  line_intake& intake_;
  std::optional<asio::ip::tcp::acceptor> tcp_;
  std::optional<asio::local::stream_protocol::acceptor> unix_;
  std::optional<asio::ip::udp::socket> udp_;
  /// One entry per connected client: closes it on stop().
  std::map<std::uint64_t, std::function<void()>> closers_;
  std::uint64_t next_client_id_ = 0;
  std::uint64_t refused_clients_ = 0;
  std::uint64_t datagram_lines_ = 0;
  log_limiter refusal_log_;
  bool stopped_ = false;
};

}  // namespace sockpush
