#include "sockpush/carbon/carbon_writer.hpp"

#include <fmt/format.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "sockpush/common/random_seed.hpp"

#if SOCKPUSH_TLS
#include "sockpush/carbon/tls_ack_map.hpp"
#include "sockpush/carbon/tls_client.hpp"
#endif

namespace sockpush {
namespace {

using asio::use_awaitable;
using asio::ip::tcp;

link_error classify(const error_code& ec) {
  if (!ec) return link_error::none;
  if (ec == asio::error::eof) return link_error::closed;
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
    return link_error::reset;
  if (ec == asio::error::timed_out) return link_error::timed_out;  // TCP_USER_TIMEOUT, keepalive
  if (ec == asio::error::operation_aborted) return link_error::aborted;
  return link_error::other;
}

std::optional<tcp_info> info_of(tcp::socket& socket) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (!socket.is_open() ||
      getsockopt(socket.native_handle(), IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
    return std::nullopt;
  return ti;
}

int to_int_ms(milliseconds ms) {
  return static_cast<int>(std::min<milliseconds::rep>(ms.count(), 0x7fffffff));
}

int to_int_s(milliseconds ms) {
  return static_cast<int>(std::max<milliseconds::rep>(1, ms.count() / 1000));
}

}  // namespace

/// One connection, or an attempt at one.
struct carbon_writer::link {
  link(asio::io_context& io, link_id id_) : id(id_), socket(io), resolver(io) {}

  /// Bytes of data written and not acknowledged by the peer (SIOCOUTQ,
  /// which still answers after a reset); -1 if the kernel cannot tell. Over
  /// TLS, the plaintext bytes whose ciphertext is not all acknowledged.
  int unacknowledged_bytes() {
    int unacked = -1;
    if (!socket.is_open() || ioctl(socket.native_handle(), SIOCOUTQ, &unacked) != 0) return -1;
    // A FIN takes a sequence number of its own: it is not data.
    if (fin_sent && unacked > 0) --unacked;
#if SOCKPUSH_TLS
    if (tls) return acks.plaintext_unacked(unacked, tls->ciphertext_written());
#endif
    return unacked;
  }

  link_id id;
  std::size_t destination = 0;
  tcp::socket socket;
  tcp::resolver resolver;
  bool fin_sent = false;
#if SOCKPUSH_TLS
  /// Over the socket, which it must not outlive; null for plaintext.
  std::unique_ptr<tls_connection> tls;
  tls_ack_map acks;
#endif
};

carbon_writer::carbon_writer(asio::io_context& io, const carbon_config& cfg,
                             std::vector<carbon_destination> destinations, line_buffer& buffer)
    : io_(io),
      cfg_(cfg),
      fsm_(cfg, std::move(destinations), buffer, random_seed()),
      done_timer_(io, clock::time_point::max()) {
  for (std::size_t t = 0; t < delivery_timer_count; ++t) timers_.emplace_back(io);
#if SOCKPUSH_TLS
  if (cfg.tls.enabled) tls_ = std::make_unique<tls_client>(cfg.tls);
#endif
}

carbon_writer::~carbon_writer() = default;

asio::awaitable<void> carbon_writer::run() {
  feed(delivery_event::start());
  while (!fsm_.done()) {
    error_code ec;
    co_await done_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

writer_stats carbon_writer::stats() const {
  auto stats = fsm_.stats();
  stats.tls_handshake_failures = tls_failures_;
  return stats;
}

void carbon_writer::feed(delivery_event event) {
  events_.push_back(std::move(event));
  if (feeding_) return;
  feeding_ = true;
  while (!events_.empty()) {
    const auto next = std::move(events_.front());
    events_.pop_front();
    for (const auto& action : fsm_.on(next, clock::now())) perform(action);
  }
  feeding_ = false;
}

std::shared_ptr<carbon_writer::link> carbon_writer::find(link_id id) const {
  for (const auto& l : links_)
    if (l->id == id) return l;
  return nullptr;
}

void carbon_writer::perform(const delivery_action& a) {
  using kind = delivery_action::kind;
  switch (a.what) {
    case kind::connect: {
#if SOCKPUSH_TLS
      // A move (make-before-break) resumes the live connection's session.
      for (const auto& other : links_)
        if (other->tls && other->destination == a.destination)
          tls_->keep_session(*other->tls, a.destination);
#endif
      auto l = links_.emplace_back(std::make_shared<link>(io_, a.link));
      l->destination = a.destination;
      asio::co_spawn(io_, connect(l, a.destination), rethrow_if_failed);
      break;
    }
    case kind::watch:
      if (auto l = find(a.link)) asio::co_spawn(io_, watch(l), rethrow_if_failed);
      break;
    case kind::write:
      if (auto l = find(a.link)) write(l, a.data);
      break;
    case kind::snapshot:
      snapshot(a.link);
      break;
    case kind::shutdown_send:
      if (auto l = find(a.link)) {
        error_code ec;
        l->socket.shutdown(tcp::socket::shutdown_send, ec);
        l->fin_sent = !ec;
      }
      break;
    case kind::close:
      close(a.link, a.discard);
      break;
    case kind::arm_timer:
      arm(a.timer, a.at);
      break;
    case kind::cancel_timer:
      cancel(a.timer);
      break;
    case kind::report:
      spdlog::log(a.level == report_level::warn   ? spdlog::level::warn
                  : a.level == report_level::info ? spdlog::level::info
                                                  : spdlog::level::debug,
                  a.text);
      break;
    case kind::done:
      done_timer_.cancel();
      break;
  }
}

asio::awaitable<void> carbon_writer::connect(std::shared_ptr<link> l, std::size_t destination) {
  const auto& where = fsm_.destination_list()[destination].where;
  error_code ec;
  // Resolved on every attempt: carbon may have moved (DNS, failover).
  auto endpoints = co_await l->resolver.async_resolve(where.host, where.port,
                                                      asio::redirect_error(use_awaitable, ec));
  if (ec) {
    feed(delivery_event::connect_failed(l->id,
                                        "cannot resolve " + where.host + ": " + ec.message()));
    co_return;
  }
  std::string reason = "no address for " + where.host;
  for (const auto& entry : endpoints) {
    const auto endpoint = entry.endpoint();
    if (find(l->id) != l) co_return;  // given up meanwhile
    l->socket.open(endpoint.protocol(), ec);
    if (ec) {
      reason = "socket(): " + ec.message();
      continue;
    }
    // The deadline actor: closes the socket if connect() takes too long.
    bool timed_out = false;
    asio::steady_timer deadline(io_, cfg_.connect_timeout);
    deadline.async_wait([&timed_out, keep = l](const error_code& wait_ec) {
      if (wait_ec) return;
      timed_out = true;
      error_code ignored;
      keep->socket.close(ignored);
    });
    co_await l->socket.async_connect(endpoint, asio::redirect_error(use_awaitable, ec));
    if (!ec && l->socket.is_open()) {
      apply_socket_options(l->socket);
      bool ready = true;
#if SOCKPUSH_TLS
      // The handshake counts against the same connect_timeout.
      if (tls_) ready = co_await handshake(*l, where.host, endpoint.address(), timed_out);
#endif
      deadline.cancel();
      if (ready) feed(delivery_event::connected(l->id, endpoint.address().to_string()));
      co_return;
    }
    deadline.cancel();
    reason = timed_out ? fmt::format("connect to {} timed out after {} ms",
                                     endpoint.address().to_string(), cfg_.connect_timeout.count())
                       : ec.message();
    error_code ignored;
    l->socket.close(ignored);
  }
  feed(delivery_event::connect_failed(l->id, reason));
}

#if SOCKPUSH_TLS
asio::awaitable<bool> carbon_writer::handshake(link& l, const std::string& host,
                                               const asio::ip::address& address,
                                               const bool& timed_out) {
  l.tls = tls_->connect(l.socket, l.destination, host);
  const auto ec = co_await l.tls->handshake();
  if (!ec && l.socket.is_open()) co_return true;
  auto [failure, why] =
      timed_out ? std::pair{tls_failure::handshake,
                            fmt::format("timed out after {} ms", cfg_.connect_timeout.count())}
                : tls_->explain(*l.tls, ec);
  ++tls_failures_[static_cast<std::size_t>(failure)];
  error_code ignored;
  l.socket.close(ignored);
  // Nothing was sent: the lines stay buffered for a connection that verifies.
  feed(delivery_event::connect_failed(
      l.id, fmt::format("TLS handshake with {} ({}) failed: {}", host, address.to_string(), why)));
  co_return false;
}
#endif

asio::awaitable<void> carbon_writer::watch(std::shared_ptr<link> l) {
  std::array<char, 512> discard{};
  error_code ec;
  // carbon's line receiver never answers: this ends only with the
  // connection (or carbon sends garbage, which is read and ignored). Over
  // TLS it also takes in the server's session tickets.
  while (!ec) {
#if SOCKPUSH_TLS
    if (l->tls) {
      ec = co_await l->tls->watch();
      break;
    }
#endif
    co_await l->socket.async_read_some(asio::buffer(discard),
                                       asio::redirect_error(use_awaitable, ec));
  }
  if (ec != asio::error::operation_aborted)
    feed(delivery_event::peer_closed(l->id, classify(ec), ec.message()));
}

void carbon_writer::write(const std::shared_ptr<link>& l, std::string_view data) {
  // write_some, not async_write: the machine restarts the stall timer on
  // every bit of progress.
#if SOCKPUSH_TLS
  if (l->tls) {
    l->tls->write(data, [this, l](const error_code& ec, std::size_t n) {
      l->acks.wrote(n, l->tls->ciphertext_reported());
      feed(delivery_event::wrote(l->id, n, classify(ec), ec.message()));
    });
    return;
  }
#endif
  l->socket.async_write_some(asio::buffer(data.data(), data.size()),
                             [this, l](const error_code& ec, std::size_t n) {
                               feed(delivery_event::wrote(l->id, n, classify(ec), ec.message()));
                             });
}

void carbon_writer::snapshot(link_id id) {
  const auto l = find(id);
  const int unacked = l ? l->unacknowledged_bytes() : -1;
  std::optional<clock::time_point> last_ack;
  if (auto ti = l ? info_of(l->socket) : std::nullopt)
    last_ack = clock::now() - std::chrono::milliseconds(ti->tcpi_last_ack_recv);
  feed(delivery_event::ack_snapshot(id, unacked, last_ack));
}

void carbon_writer::close(link_id id, bool discard) {
  const auto l = find(id);
  int unacked = -1;
  if (l) {
    // Read before close(): SIOCOUTQ answers until then, even after a reset.
    unacked = l->unacknowledged_bytes();
#if SOCKPUSH_TLS
    if (l->tls) tls_->keep_session(*l->tls, l->destination);
#endif
    error_code ignored;
    if (discard && unacked > 0) l->socket.set_option(asio::socket_base::linger(true, 0), ignored);
    l->resolver.cancel();
    l->socket.close(ignored);
    links_.erase(std::find(links_.begin(), links_.end(), l));
  }
  feed(delivery_event::closed(id, unacked));
}

void carbon_writer::arm(delivery_timer timer, clock::time_point at) {
  const auto t = static_cast<std::size_t>(timer);
  const auto generation = ++timer_generation_[t];
  timers_[t].expires_at(at);
  timers_[t].async_wait([this, timer, t, generation](const error_code& ec) {
    if (!ec && generation == timer_generation_[t]) feed(delivery_event::fired(timer));
  });
}

void carbon_writer::cancel(delivery_timer timer) {
  const auto t = static_cast<std::size_t>(timer);
  ++timer_generation_[t];
  timers_[t].cancel();
}

connection_info carbon_writer::connection() const {
  connection_info info;
  const auto l = find(fsm_.live_link());
  if (!l) return info;
  info.connected = true;
  if (auto ti = info_of(l->socket)) {
    info.rtt_ms = static_cast<double>(ti->tcpi_rtt) / 1000.0;
    info.retransmits = ti->tcpi_total_retrans;
  }
  const int unacked = l->unacknowledged_bytes();
  if (unacked > 0) info.unacked_bytes = static_cast<std::uint64_t>(unacked);
#if SOCKPUSH_TLS
  if (l->tls) {
    info.tls = true;
    info.tls_resumed = SSL_session_reused(l->tls->native_handle()) == 1;
  }
#endif
  return info;
}

void carbon_writer::apply_socket_options(tcp::socket& socket) const {
  const int fd = socket.native_handle();
  const int on = 1;
  const int idle = to_int_s(cfg_.keepalive_idle);
  const int interval = to_int_s(cfg_.keepalive_interval);
  const int count = cfg_.keepalive_count;
  const auto user_timeout = static_cast<unsigned>(to_int_ms(cfg_.user_timeout));
  // A peer that stops reading can hold at most this much of ours in the
  // kernel; the rest waits (bounded) in the line buffer.
  const int send_buffer = static_cast<int>(std::min<std::size_t>(cfg_.send_buffer, 0x7fffffff));
  const int not_sent_low = 16 * 1024;
  // Failures here only weaken dead-peer detection, so they are logged, not fatal.
  auto set = [&](int level, int name, const void* value, socklen_t size, const char* what) {
    if (setsockopt(fd, level, name, value, size) != 0)
      spdlog::debug("setsockopt {} failed: {}", what, std::strerror(errno));
  };
  set(SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on, "SO_KEEPALIVE");
  set(IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle, "TCP_KEEPIDLE");
  set(IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval, "TCP_KEEPINTVL");
  set(IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count, "TCP_KEEPCNT");
  // The kernel's own dead-peer timeout; the machine's acknowledgement
  // check ends such a connection on time, this is the backstop.
  set(IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout, "TCP_USER_TIMEOUT");
  // Batching happens in user space (one write per round), so Nagle would
  // only add a round trip of delay to the next round.
  set(IPPROTO_TCP, TCP_NODELAY, &on, sizeof on, "TCP_NODELAY");
  set(SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer, "SO_SNDBUF");
  set(IPPROTO_TCP, TCP_NOTSENT_LOWAT, &not_sent_low, sizeof not_sent_low, "TCP_NOTSENT_LOWAT");
}

}  // namespace sockpush
