#include "sockpush/intake/listener.hpp"

#include "sockpush/common/metric_path.hpp"
#include "sockpush/intake/stream_feed.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace sockpush {
namespace {

constexpr std::size_t client_read_bytes = 16 * 1024;
constexpr std::size_t max_datagram_bytes = 64 * 1024;

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

template <typename Endpoint>
std::string endpoint_text(const Endpoint& e) {
  auto ip = e.address();
  return ip.is_v6() ? fmt::format("[{}]:{}", ip.to_string(), e.port())
                    : fmt::format("{}:{}", ip.to_string(), e.port());
}

/// A stale socket file from a killed daemon would make bind() fail; anything
/// that is not a socket is the user's file and is left alone.
void remove_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode))
    throw std::runtime_error(
        fmt::format("listen address unix://{}: exists and is not a socket", path));
  ::unlink(path.c_str());
}

}  // namespace

listener::listener(asio::io_context& io, const listen_config& cfg, line_intake& intake)
    : io_(io),
      cfg_(cfg),
      address_(check_listen_address(cfg.address, cfg.allow_remote)),
      intake_(intake) {
  auto scheme_end = address_.text.find("://");
  metric_name_ = sanitize_path_component(address_.text.substr(0, scheme_end) + "_" +
                                         address_.text.substr(scheme_end + 3));
  try {
    switch (address_.kind) {
      case listen_address::transport::tcp:
        tcp_.emplace(io_, asio::ip::tcp::endpoint(address_.ip, address_.port), true);
        break;
      case listen_address::transport::udp:
        udp_.emplace(io_, asio::ip::udp::endpoint(address_.ip, address_.port));
        break;
      case listen_address::transport::unix_stream:
        remove_stale_socket(address_.path);
        unix_.emplace(io_, asio::local::stream_protocol::endpoint(address_.path));
        break;
    }
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(
        fmt::format("cannot listen on {}: {}", address_.text, e.code().message()));
  }
  spdlog::info("listening for lines on {}", address_.text);
}

listener::~listener() {
  stop();
  if (unix_) ::unlink(address_.path.c_str());
}

void listener::start() {
  if (tcp_) asio::co_spawn(io_, accept_loop(*tcp_), rethrow_if_failed);
  if (unix_) asio::co_spawn(io_, accept_loop(*unix_), rethrow_if_failed);
  if (udp_) asio::co_spawn(io_, receive_datagrams(), rethrow_if_failed);
}

void listener::stop() {
  if (stopped_) return;
  stopped_ = true;
  error_code ignored;
  if (tcp_) tcp_->close(ignored);
  if (unix_) unix_->close(ignored);
  if (udp_) udp_->close(ignored);
  auto closers = std::move(closers_);
  closers_.clear();
  for (auto& [id, close] : closers) close();
}

template <typename Acceptor>
asio::awaitable<void> listener::accept_loop(Acceptor& acceptor) {
  while (!stopped_) {
    error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_ || ec == asio::error::operation_aborted) break;
    if (ec) {
      // EMFILE and friends: wait instead of spinning on a failing accept.
      spdlog::warn("{}: accept failed: {}", address_.text, ec.message());
      asio::steady_timer pause(io_, std::chrono::seconds(1));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    std::string origin = address_.text;
    if constexpr (std::is_same_v<Acceptor, asio::ip::tcp::acceptor>) {
      error_code peer_ec;
      auto peer = socket.remote_endpoint(peer_ec);
      if (!peer_ec) origin += " client " + endpoint_text(peer);
    }
    if (closers_.size() >= cfg_.max_clients) {
      ++refused_clients_;
      std::uint64_t held_back = 0;
      if (refusal_log_.allow(held_back))
        spdlog::warn("{}: refused ({} clients already, max_clients = {}; {} refused in all)",
                     origin, closers_.size(), cfg_.max_clients, refused_clients_);
      socket.close(ec);
      continue;
    }
    asio::co_spawn(io_, serve_client(std::move(socket), std::move(origin)), asio::detached);
  }
}

namespace {

template <typename Socket>
struct client_state {
  Socket socket;
  asio::steady_timer idle;
};

/// Idle watchdog: each read pushes the expiry forward, which cancels the
/// pending wait; only a wait that ends past the expiry closes the client.
template <typename Socket>
asio::awaitable<void> close_when_idle(std::shared_ptr<client_state<Socket>> client,
                                      std::string origin, milliseconds idle_timeout) {
  while (client->socket.is_open()) {
    error_code ec;
    co_await client->idle.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (client->socket.is_open() &&
        client->idle.expiry() <= asio::steady_timer::clock_type::now()) {
      spdlog::info("{}: closing, nothing received for {} ms", origin, idle_timeout.count());
      client->socket.close(ec);
    }
  }
}

}  // namespace

template <typename Socket>
asio::awaitable<void> listener::serve_client(Socket socket, std::string origin) {
  auto client = std::make_shared<client_state<Socket>>(
      client_state<Socket>{std::move(socket), asio::steady_timer(io_)});
  auto id = next_client_id_++;
  closers_[id] = [client] {
    error_code ignored;
    client->socket.close(ignored);
    client->idle.cancel();
  };
  spdlog::debug("{}: connected", origin);

  client->idle.expires_after(cfg_.idle_timeout);
  asio::co_spawn(io_, close_when_idle(client, origin, cfg_.idle_timeout), asio::detached);

  stream_feed feed(intake_, std::move(origin), intake_.rules(), client_read_bytes);
  asio::steady_timer pause(io_);
  auto ec = co_await feed.read(
      client->socket, pause, [&] { return !stopped_ && client->socket.is_open(); }, unix_now,
      [&] { client->idle.expires_after(cfg_.idle_timeout); });
  // Only the client's own clean end (FIN) completes a last line without
  // '\n', as nc's final line is meant. A reset, our stop or an idle close
  // leaves it half-sent: refused, never completed with a made-up timestamp.
  if (ec == asio::error::eof)
    feed.finish(unix_now());
  else
    feed.abandon();
  closers_.erase(id);
  error_code ignored;
  client->socket.close(ignored);
  client->idle.cancel();
  spdlog::debug("{}: disconnected after {} lines", feed.origin(), feed.lines());
}

asio::awaitable<void> listener::receive_datagrams() {
  std::vector<char> datagram(max_datagram_bytes);
  while (!stopped_) {
    asio::ip::udp::endpoint from;
    error_code ec;
    auto got = co_await udp_->async_receive_from(asio::buffer(datagram), from,
                                                 asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_ || ec == asio::error::operation_aborted) break;
    if (ec) {
      if (!udp_->is_open()) break;
      continue;  // e.g. an ICMP error reported on the socket: nothing to read
    }
    auto origin = address_.text + " from " + endpoint_text(from);
    std::int64_t now = unix_now();
    // A datagram holds whole lines; its end ends the last one.
    line_splitter splitter;
    intake_.feed(splitter, std::string_view(datagram.data(), got), origin, datagram_lines_, now);
    intake_.finish(splitter, origin, datagram_lines_, now);
  }
}

}  // namespace sockpush
