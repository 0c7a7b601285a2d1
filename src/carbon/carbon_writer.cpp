#include "sockpush/carbon/carbon_writer.hpp"

#include <fmt/format.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "sockpush/common/overloaded.hpp"
#include "sockpush/common/random_seed.hpp"

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

spdlog::level::level_enum spdlog_level(report_level level) {
  switch (level) {
    case report_level::warn:
      return spdlog::level::warn;
    case report_level::info:
      return spdlog::level::info;
    case report_level::debug:
      break;
  }
  return spdlog::level::debug;
}

}  // namespace

/// One connection, or an attempt at one.
struct carbon_writer::link {
  link(asio::io_context& io, link_id id_, std::size_t destination_)
      : id(id_), destination(destination_), socket(io), resolver(io) {}

  /// Bytes given to the transport and not acknowledged by the peer
  /// (SIOCOUTQ, which still answers after a reset); nullopt if the kernel
  /// cannot tell.
  unacked_bytes unacknowledged() {
    int unacked = -1;
    if (!socket.is_open() || ioctl(socket.native_handle(), SIOCOUTQ, &unacked) != 0 || unacked < 0)
      return std::nullopt;
    // A FIN takes a sequence number of its own: it is not data.
    if (fin_sent && unacked > 0) --unacked;
    const auto kernel = static_cast<std::size_t>(unacked);
    return transport ? transport->unacknowledged(kernel) : kernel;
  }

  link_id id;
  std::size_t destination;
  tcp::socket socket;
  tcp::resolver resolver;
  /// Over the socket, once connected; it must not outlive the socket.
  std::unique_ptr<sockpush::transport> transport;
  bool fin_sent = false;
};

carbon_writer::carbon_writer(asio::io_context& io, const carbon_config& cfg,
                             std::vector<carbon_destination> destinations, line_buffer& buffer)
    : io_(io),
      cfg_(cfg),
      fsm_(cfg, std::move(destinations), buffer, random_seed()),
      transports_(cfg.tls),
      done_timer_(io, clock::time_point::max()) {
  // Never resized after this: the waits hold references to their timer.
  timers_.reserve(delivery_timer_count);
  for (std::size_t t = 0; t < delivery_timer_count; ++t)
    timers_.push_back({asio::steady_timer(io)});
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
  stats.tls_handshake_failures = transports_.tls_failures();
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

void carbon_writer::perform(const delivery_action& action) {
  std::visit(overloaded{
                 [&](const action::connect& a) { start_connect(a); },
                 [&](const action::watch& a) {
                   if (auto l = find(a.link)) asio::co_spawn(io_, watch(l), rethrow_if_failed);
                 },
                 [&](const action::write& a) { write(a); },
                 [&](const action::snapshot& a) { snapshot(a); },
                 [&](const action::shutdown_send& a) {
                   if (auto l = find(a.link)) {
                     error_code ec;
                     l->socket.shutdown(tcp::socket::shutdown_send, ec);
                     l->fin_sent = !ec;
                   }
                 },
                 [&](const action::close& a) { close(a); },
                 [&](const action::arm_timer& a) { arm(a); },
                 [&](const action::cancel_timer& a) { cancel(a.timer); },
                 [&](const action::log& a) {
                   spdlog::log(spdlog_level(level_of(a.what)),
                               describe(a.what, fsm_.destination_names()));
                 },
                 [&](const action::done&) { done_timer_.cancel(); },
             },
             action.what);
}

void carbon_writer::start_connect(const action::connect& a) {
  // A move (make-before-break) resumes the live connection's session.
  for (const auto& other : links_)
    if (other->transport && other->destination == a.destination) other->transport->keep_session();
  auto l = links_.emplace_back(std::make_shared<link>(io_, a.link, a.destination));
  asio::co_spawn(io_, connect(l), rethrow_if_failed);
}

asio::awaitable<void> carbon_writer::connect(std::shared_ptr<link> l) {
  const auto& where = fsm_.destination_list()[l->destination].where;
  error_code ec;
  // Resolved on every attempt: carbon may have moved (DNS, failover).
  auto endpoints = co_await l->resolver.async_resolve(where.host, where.port,
                                                      asio::redirect_error(use_awaitable, ec));
  if (ec) {
    connect_failed(l, "cannot resolve " + where.host + ": " + ec.message());
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
      const auto address = endpoint.address().to_string();
      l->transport = transports_.over(l->socket, l->destination, where.host, address);
      const auto failed = co_await l->transport->handshake(timed_out);
      deadline.cancel();
      if (failed) {
        error_code ignored;
        l->socket.close(ignored);
        connect_failed(l, *failed);
      } else {
        feed(delivery_event::connected(l->id, address));
      }
      co_return;
    }
    deadline.cancel();
    reason = timed_out ? fmt::format("connect to {} timed out after {} ms",
                                     endpoint.address().to_string(), cfg_.connect_timeout.count())
                       : ec.message();
    error_code ignored;
    l->socket.close(ignored);
  }
  connect_failed(l, reason);
}

void carbon_writer::connect_failed(const std::shared_ptr<link>& l, std::string why) {
  // Forgotten here: the machine never refers to a failed attempt again, and
  // an outage of many attempts must not pile them up.
  if (auto it = std::find(links_.begin(), links_.end(), l); it != links_.end()) links_.erase(it);
  feed(delivery_event::connect_failed(l->id, std::move(why)));
}

asio::awaitable<void> carbon_writer::watch(std::shared_ptr<link> l) {
  const auto ec = co_await l->transport->watch();
  if (ec != asio::error::operation_aborted)
    feed(delivery_event::peer_closed(l->id, classify(ec), ec.message()));
}

void carbon_writer::write(const action::write& a) {
  const auto l = find(a.link);
  if (!l) return;
  // Some of the data, not all of it: the machine restarts the stall timer
  // on every bit of progress.
  l->transport->write(a.data, [this, l](const error_code& ec, std::size_t n) {
    feed(delivery_event::wrote(l->id, n, classify(ec), ec.message()));
  });
}

void carbon_writer::snapshot(const action::snapshot& a) {
  const auto l = find(a.link);
  const auto unacked = l ? l->unacknowledged() : std::nullopt;
  std::optional<clock::time_point> last_ack;
  if (auto ti = l ? info_of(l->socket) : std::nullopt)
    last_ack = clock::now() - std::chrono::milliseconds(ti->tcpi_last_ack_recv);
  feed(delivery_event::ack_snapshot(a.link, a.purpose, unacked, last_ack));
}

void carbon_writer::close(const action::close& a) {
  const auto l = find(a.link);
  unacked_bytes unacked;
  if (l) {
    // Read before close(): SIOCOUTQ answers until then, even after a reset.
    unacked = l->unacknowledged();
    if (l->transport) l->transport->keep_session();
    error_code ignored;
    if (a.mode == close_mode::reset_if_unacked && unacked.value_or(0) > 0)
      l->socket.set_option(asio::socket_base::linger(true, 0), ignored);
    l->resolver.cancel();
    l->socket.close(ignored);
    links_.erase(std::find(links_.begin(), links_.end(), l));
  }
  feed(delivery_event::closed(a.link, unacked));
}

void carbon_writer::arm(const action::arm_timer& a) {
  auto& t = timers_[static_cast<std::size_t>(a.timer)];
  if (a.how == arming::unless_armed && t.armed) return;
  const auto generation = ++t.generation;
  t.armed = true;
  t.wait.expires_at(a.at);
  t.wait.async_wait([this, &t, which = a.timer, generation](const error_code& ec) {
    if (ec || generation != t.generation) return;
    t.armed = false;
    feed(delivery_event::fired(which));
  });
}

void carbon_writer::cancel(delivery_timer which) {
  auto& t = timers_[static_cast<std::size_t>(which)];
  ++t.generation;
  t.armed = false;
  t.wait.cancel();
}

std::vector<destination_stats> carbon_writer::destinations() const {
  auto all = fsm_.destinations();
  const auto now = connection();
  for (auto& d : all) d.tls_resumed = d.connected && now.tls_resumed;
  return all;
}

connection_info carbon_writer::connection() const {
  connection_info info;
  const auto live = fsm_.live_link();
  const auto l = live ? find(*live) : nullptr;
  if (!l) return info;
  info.connected = true;
  if (auto ti = info_of(l->socket)) {
    info.rtt_ms = static_cast<double>(ti->tcpi_rtt) / 1000.0;
    info.retransmits = ti->tcpi_total_retrans;
  }
  info.unacked_bytes = l->unacknowledged().value_or(0);
  if (l->transport) l->transport->describe(info);
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
