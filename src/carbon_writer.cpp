#include "sockpush/carbon_writer.hpp"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <random>
#include <stdexcept>

namespace sockpush {
namespace {

using namespace std::chrono_literals;

using asio::use_awaitable;
using asio::ip::tcp;

/// Largest batch per write: big enough that one round is one write, small
/// enough that a failed write puts back little.
constexpr std::size_t max_batch_bytes = 256 * 1024;

/// With flush_delay, this much buffered is written without waiting longer.
constexpr std::size_t flush_bytes = 16 * 1024;

/// How often close_gracefully() asks the kernel whether all is acknowledged.
constexpr auto ack_poll_interval = std::chrono::milliseconds(10);

/// The peer ended the connection on purpose (carbon stopping or killed),
/// rather than the network or a timeout ending it.
bool ended_by_peer(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

/// Closes a connection whose unacknowledged bytes (`unacked`) are being
/// sent again elsewhere (a new connection, the spool): a reset makes the
/// kernel drop them instead of delivering them late, a second time.
void close_discarding_unacknowledged(tcp::socket& socket, int unacked) {
  error_code ignored;
  if (unacked > 0) socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

int to_int_ms(milliseconds ms) {
  return static_cast<int>(std::min<milliseconds::rep>(ms.count(), 0x7fffffff));
}

int to_int_s(milliseconds ms) {
  return static_cast<int>(std::max<milliseconds::rep>(1, ms.count() / 1000));
}

bool is_cancelled(const error_code& ec) {
  return ec == asio::error::operation_aborted;
}

}  // namespace

carbon_writer::carbon_writer(asio::io_context& io, const carbon_config& cfg,
                             std::vector<carbon_destination> destinations, line_buffer& buffer)
    : io_(io),
      cfg_(cfg),
      destinations_(std::move(destinations)),
      passed_over_until_(destinations_.size()),
      destination_stats_(destinations_.size()),
      ever_connected_to_(destinations_.size()),
      buffer_(buffer),
      backoff_(cfg.reconnect_min, cfg.reconnect_max, std::random_device{}()),
      socket_(io),
      resolver_(io),
      wake_timer_(io, clock::time_point::max()),
      backoff_timer_(io),
      stall_timer_(io),
      move_timer_(io),
      ack_timer_(io),
      // The kernel doubles SO_SNDBUF; the replay window may need up to a
      // buffer's worth more.
      history_cap_(2 * cfg.send_buffer + (cfg.replay_window.count() > 0 ? buffer.max_bytes() : 0)) {
  if (destinations_.empty()) throw std::invalid_argument("carbon_writer needs a destination");
  for (std::size_t i = 0; i < destinations_.size(); ++i)
    destination_stats_[i].name = destinations_[i].metric_name();
}

connection_info carbon_writer::connection() const {
  connection_info info;
  if (!socket_.is_open()) return info;
  info.connected = true;
  int fd = const_cast<tcp::socket&>(socket_).native_handle();
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
    info.rtt_ms = static_cast<double>(ti.tcpi_rtt) / 1000.0;
    info.retransmits = ti.tcpi_total_retrans;
  }
  int unacked = 0;
  if (ioctl(fd, SIOCOUTQ, &unacked) == 0 && unacked > 0)
    info.unacked_bytes = static_cast<std::uint64_t>(unacked);
  return info;
}

std::vector<destination_stats> carbon_writer::destinations() const {
  auto all = destination_stats_;
  all[current_].connected = socket_.is_open();
  return all;
}

void carbon_writer::remember_written(std::string&& batch) {
  written_total_ += batch.size();
  history_bytes_ += batch.size();
  history_.push_back(std::move(batch));
  while (history_.size() > 1 && history_bytes_ - history_.front().size() >= history_cap_) {
    history_base_ += history_.front().size();
    history_bytes_ -= history_.front().size();
    spare_ = std::move(history_.front());
    history_.pop_front();
  }
  while (!write_marks_.empty() && write_marks_.front().second < history_base_)
    write_marks_.pop_front();
}

void carbon_writer::replay_unacknowledged(bool with_window) {
  std::uint64_t from = written_total_;
  if (unacked_at_last_drop_ > 0)
    from -=
        std::min<std::uint64_t>(static_cast<std::uint64_t>(unacked_at_last_drop_), written_total_);
  if (with_window && cfg_.replay_window.count() > 0)
    from = std::min(from, first_written_since(failed_at_ - cfg_.replay_window));
  if (from < history_base_) {
    spdlog::warn("{} bytes to re-send were older than the history kept; they are lost",
                 history_base_ - from);
    from = history_base_;
  }
  // Carbon stopping: it may have dropped what it read in its last write
  // pass. Best effort within the history, so no warning when it holds less.
  if (with_window && closed_by_peer_ && cfg_.peer_close_replay.count() > 0)
    from = std::min(from, std::max(history_base_,
                                   first_written_since(failed_at_ - cfg_.peer_close_replay)));
  std::string all;
  all.reserve(history_bytes_);
  for (const auto& batch : history_) all += batch;
  std::string_view held(all);
  auto pos = static_cast<std::size_t>(from - history_base_);
  // From the start of the line holding the first byte to re-send, up to the
  // last complete line: a torn last line is already back in the buffer whole.
  std::size_t start = pos == 0 ? 0 : held.rfind('\n', pos - 1);
  start = (pos == 0 || start == std::string_view::npos) ? 0 : start + 1;
  auto last = held.rfind('\n');
  if (last != std::string_view::npos && last + 1 > start) {
    auto replay = held.substr(start, last + 1 - start);
    auto lines = count_lines(replay);
    buffer_.put_back(replay);
    stats_.replayed_lines += lines;
    spdlog::info("re-sending {} lines ({} bytes) the peer may not have stored", lines,
                 replay.size());
  }
  history_.clear();
  history_bytes_ = 0;
  history_base_ = written_total_;
  write_marks_.clear();
}

std::uint64_t carbon_writer::first_written_since(clock::time_point t) const {
  for (const auto& [when, offset] : write_marks_)
    if (when >= t) return offset;
  return written_total_;
}

void carbon_writer::arm_stall_timer(std::uint64_t connection_id) {
  stall_timer_.expires_after(cfg_.stall_timeout);
  stall_timer_.async_wait([this, connection_id](const error_code& ec) {
    if (ec || connection_id != connection_id_) return;
    ++stats_.stalled;
    drop_connection(
        fmt::format("stalled: no write progress for {} ms", cfg_.stall_timeout.count()));
  });
}

void carbon_writer::arm_ack_timer(clock::time_point at) {
  ack_timer_armed_ = true;
  ack_timer_.expires_at(at);
  ack_timer_.async_wait([this, id = connection_id_](const error_code& ec) {
    if (ec || id != connection_id_) return;
    ack_timer_armed_ = false;
    check_acknowledgements();
  });
}

void carbon_writer::disarm_ack_timer() {
  ack_timer_.cancel();
  ack_timer_armed_ = false;
}

void carbon_writer::check_acknowledgements() {
  if (!socket_.is_open()) return;
  const int fd = socket_.native_handle();
  int unacked = 0;
  if (ioctl(fd, SIOCOUTQ, &unacked) != 0 || unacked <= 0)
    return;  // all acknowledged: the next write arms the timer again
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return;  // the kernel's timeout rules
  const auto now = clock::now();
  const auto last_ack = now - std::chrono::milliseconds(ti.tcpi_last_ack_recv);
  // The write that holds the oldest unacknowledged byte. A batch being
  // written counts whole: the kernel may have taken it before this
  // coroutine heard so, and its bytes all share the batch's mark anyway.
  const std::uint64_t taken = written_total_ + in_flight_.size();
  const std::uint64_t oldest = taken - std::min<std::uint64_t>(taken, unacked);
  auto written_at = now;
  for (const auto& [when, offset] : write_marks_) {
    if (offset > oldest) break;
    written_at = when;
  }
  // tcpi_last_ack_recv counts in jiffies: an ACK within a few of them after
  // the write may have come before it.
  const bool acked_since = last_ack > written_at + 10ms;
  const auto due = written_at + cfg_.user_timeout;
  if (!acked_since && now >= due) {
    ++stats_.timed_out;
    drop_connection(fmt::format(
        "timed out: {} bytes written {} ms ago were never acknowledged (user_timeout {} ms)",
        unacked, std::chrono::duration_cast<std::chrono::milliseconds>(now - written_at).count(),
        cfg_.user_timeout.count()));
    return;
  }
  // A peer that acknowledges something is alive, if slow. One whose window
  // stays shut is ended by the stall timer, or by the kernel's own
  // TCP_USER_TIMEOUT, which on 6.x also counts answered window probes.
  arm_ack_timer(acked_since ? now + cfg_.user_timeout : due);
}

void carbon_writer::wake() {
  wake_timer_.cancel();
}

void carbon_writer::finish(clock::time_point deadline) {
  finishing_ = true;
  deadline_ = deadline;
  wake_timer_.cancel();
  backoff_timer_.cancel();
  move_timer_.cancel();
}

bool carbon_writer::delivered() const {
  return all_acknowledged_ && buffer_.empty();
}

asio::awaitable<void> carbon_writer::sleep_for(clock::duration d) {
  if (finishing_) d = std::min(d, deadline_ - clock::now());
  if (d <= clock::duration::zero()) co_return;
  // Its own timer: new lines must not cut a backoff short, finish() must.
  backoff_timer_.expires_after(d);
  error_code ec;
  co_await backoff_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
}

void carbon_writer::apply_socket_options() {
  int fd = socket_.native_handle();
  int on = 1;
  int idle = to_int_s(cfg_.keepalive_idle);
  int interval = to_int_s(cfg_.keepalive_interval);
  int count = cfg_.keepalive_count;
  unsigned user_timeout = static_cast<unsigned>(to_int_ms(cfg_.user_timeout));
  // Failures here only weaken dead-peer detection, so they are logged, not fatal.
  auto set = [&](int level, int name, const void* value, socklen_t size, const char* what) {
    if (setsockopt(fd, level, name, value, size) != 0)
      spdlog::debug("setsockopt {} failed: {}", what, std::strerror(errno));
  };
  set(SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on, "SO_KEEPALIVE");
  set(IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle, "TCP_KEEPIDLE");
  set(IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval, "TCP_KEEPINTVL");
  set(IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count, "TCP_KEEPCNT");
  set(IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout, "TCP_USER_TIMEOUT");
  // Batching happens in user space (one write per round), so Nagle would
  // only add a round trip of delay to the next round.
  set(IPPROTO_TCP, TCP_NODELAY, &on, sizeof on, "TCP_NODELAY");
  // A peer that stops reading can hold at most this much of ours in the
  // kernel; the rest waits (bounded) in the line buffer.
  int send_buffer = static_cast<int>(std::min<std::size_t>(cfg_.send_buffer, 0x7fffffff));
  set(SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer, "SO_SNDBUF");
  int not_sent_low = 16 * 1024;
  set(IPPROTO_TCP, TCP_NOTSENT_LOWAT, &not_sent_low, sizeof not_sent_low, "TCP_NOTSENT_LOWAT");
}

asio::awaitable<std::string> carbon_writer::connect(tcp::socket& socket, const host_port& where) {
  error_code ec;
  // Resolved on every attempt: carbon may have moved (DNS, failover).
  auto endpoints = co_await resolver_.async_resolve(where.host, where.port,
                                                    asio::redirect_error(use_awaitable, ec));
  if (ec) co_return "cannot resolve " + where.host + ": " + ec.message();

  std::string reason = "no address for " + where.host;
  for (const auto& entry : endpoints) {
    if (past_deadline()) co_return "shutdown deadline reached";
    const auto endpoint = entry.endpoint();
    socket.open(endpoint.protocol(), ec);
    if (ec) {
      reason = "socket(): " + ec.message();
      continue;
    }
    // The deadline actor: closes the socket if connect() takes too long. The
    // attempt number keeps an expiry that raced with success from closing
    // the connection that just came up.
    const auto attempt = ++connect_attempt_;
    connect_timed_out_ = false;
    asio::steady_timer deadline(io_, cfg_.connect_timeout);
    deadline.async_wait([this, attempt, &socket](const error_code& wait_ec) {
      if (wait_ec || attempt != connect_attempt_) return;
      connect_timed_out_ = true;
      error_code ignored;
      socket.close(ignored);
    });
    co_await socket.async_connect(endpoint, asio::redirect_error(use_awaitable, ec));
    ++connect_attempt_;
    deadline.cancel();
    if (!ec && socket.is_open()) co_return std::string{};
    reason = connect_timed_out_
                 ? fmt::format("connect to {} timed out after {} ms",
                               endpoint.address().to_string(), cfg_.connect_timeout.count())
                 : ec.message();
    error_code ignored;
    socket.close(ignored);
  }
  co_return reason;
}

std::size_t carbon_writer::preferred_destination() const {
  const auto now = clock::now();
  for (std::size_t i = 0; i < current_; ++i)
    if (passed_over_until_[i] <= now) return i;
  return current_;
}

asio::awaitable<std::string> carbon_writer::connect_first_healthy() {
  const auto now = clock::now();
  const bool all_passed_over = std::all_of(passed_over_until_.begin(), passed_over_until_.end(),
                                           [now](const auto& until) { return until > now; });
  std::string failures;
  for (std::size_t i = 0; i < destinations_.size(); ++i) {
    if (!all_passed_over && passed_over_until_[i] > now) continue;
    auto failure = co_await connect(socket_, destinations_[i].where);
    if (failure.empty()) {
      current_ = i;
      co_return std::string{};
    }
    if (destinations_.size() > 1) passed_over_until_[i] = clock::now() + cfg_.hold_down;
    failures += (failures.empty() ? "" : "; ") +
                (destinations_.size() > 1 ? destinations_[i].to_string() + ": " : "") + failure;
    if (past_deadline()) break;
  }
  co_return failures;
}

asio::awaitable<void> carbon_writer::watch_peer(std::uint64_t connection_id) {
  std::array<char, 512> discard{};
  error_code ec;
  // carbon's line receiver never answers, so this only completes when the
  // connection ends (or carbon sends garbage, which is read and ignored).
  for (;;) {
    co_await socket_.async_read_some(asio::buffer(discard),
                                     asio::redirect_error(use_awaitable, ec));
    if (connection_id != connection_id_ || is_cancelled(ec)) co_return;
    if (ec) break;
  }
  count_disconnect(ec);
  drop_connection(ec == asio::error::eof ? "closed by peer" : ec.message(), ended_by_peer(ec));
}

void carbon_writer::count_disconnect(const error_code& ec) {
  if (ec == asio::error::eof)
    ++stats_.closed_by_peer;
  else if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
    ++stats_.reset;
  else if (ec == asio::error::timed_out)  // TCP_USER_TIMEOUT or keepalive
    ++stats_.timed_out;
  else
    ++stats_.other_failures;
}

void carbon_writer::drop_connection(const std::string& reason, bool by_peer) {
  if (!socket_.is_open()) return;
  if (peer_close_reason_.empty()) peer_close_reason_ = reason;
  closed_by_peer_ = by_peer;
  failed_at_ = clock::now();
  ++connection_id_;  // makes every completion of this connection stale
  stall_timer_.cancel();
  disarm_ack_timer();
  // SIOCOUTQ still answers after a FIN or a reset, until close().
  if (ioctl(socket_.native_handle(), SIOCOUTQ, &unacked_at_last_drop_) != 0)
    unacked_at_last_drop_ = -1;
  error_code ignored;
  socket_.close(ignored);
  wake_timer_.cancel();
}

asio::awaitable<std::string> carbon_writer::write_while_connected() {
  auto id = connection_id_;
  for (;;) {
    if (id != connection_id_ || !socket_.is_open())
      co_return peer_close_reason_.empty() ? std::string("connection closed") : peer_close_reason_;
    if (move_due_ && !finishing_) {
      move_due_ = false;
      co_await move_connection();
      id = connection_id_;
      continue;
    }
    if (buffer_.empty()) {
      if (finishing_) co_return std::string{};
      error_code ec;
      co_await wake_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    if (cfg_.flush_delay.count() > 0 && !finishing_ && buffer_.bytes() < flush_bytes) {
      // Coalescing: a lone line waits (bounded) for the ones behind it.
      const auto now = clock::now();
      if (!flush_due_) flush_due_ = now + cfg_.flush_delay;
      if (now < *flush_due_) {
        wake_timer_.expires_at(*flush_due_);
        error_code ec;
        co_await wake_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
        wake_timer_.expires_at(clock::time_point::max());
        continue;
      }
    }
    flush_due_.reset();
    in_flight_.swap(spare_);
    in_flight_.clear();
    const auto lines = buffer_.take(in_flight_, max_batch_bytes);
    in_flight_lines_ = lines;
    write_marks_.emplace_back(clock::now(), written_total_);
    error_code ec;
    std::size_t written = 0;
    // write_some in a loop, not async_write: the stall timer restarts on
    // every bit of progress and fires only when there is none.
    while (written < in_flight_.size()) {
      arm_stall_timer(id);
      auto n = co_await socket_.async_write_some(
          asio::buffer(in_flight_.data() + written, in_flight_.size() - written),
          asio::redirect_error(use_awaitable, ec));
      written += n;
      if (ec) break;
      if (!ack_timer_armed_) arm_ack_timer(clock::now() + cfg_.user_timeout);
    }
    stall_timer_.cancel();
    in_flight_lines_ = 0;
    if (!ec) {
      remember_written(std::move(in_flight_));
      in_flight_.clear();
      stats_.sent_lines += lines;
      destination_stats_[current_].sent_lines += lines;
      continue;
    }
    // Put back everything from the start of the line holding the first
    // unwritten byte; the part of that line already written is sent again
    // whole, so carbon sees a complete line (it ignores the torn fragment).
    std::string_view done(in_flight_.data(), written);
    remember_written(std::string(done));
    auto line_start = done.rfind('\n');
    std::size_t keep = line_start == std::string_view::npos ? 0 : line_start + 1;
    const auto sent = count_lines(done.substr(0, keep));
    stats_.sent_lines += sent;
    destination_stats_[current_].sent_lines += sent;
    buffer_.put_back(std::string_view(in_flight_).substr(keep));
    in_flight_.clear();
    if (id == connection_id_) {
      count_disconnect(ec);
      drop_connection("write failed: " + ec.message(), ended_by_peer(ec));
    }
  }
}

asio::awaitable<int> carbon_writer::unacknowledged_after(clock::time_point until) {
  asio::steady_timer poll(io_);
  for (;;) {
    int unacked = -1;
    if (!socket_.is_open() || ioctl(socket_.native_handle(), SIOCOUTQ, &unacked) != 0) co_return -1;
    if (unacked == 0 || clock::now() >= until) co_return unacked;
    poll.expires_after(std::min<clock::duration>(ack_poll_interval, until - clock::now()));
    error_code ec;
    co_await poll.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

asio::awaitable<void> carbon_writer::close_gracefully() {
  // Lines count as delivered once the peer's TCP has acknowledged them: until
  // then a reset would lose them. SIOCOUTQ is what is still unacknowledged.
  const int unacked = co_await unacknowledged_after(deadline_);
  // The peer may have closed first (maybe while we polled): what it
  // acknowledged before that is delivered. A socket the kernel cannot
  // answer for counts as delivered, as a clean close would.
  all_acknowledged_ = socket_.is_open() ? unacked <= 0 : unacked_at_last_drop_ == 0;
  if (socket_.is_open()) {
    unacked_at_last_drop_ = unacked;
    ++connection_id_;
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    // Past the deadline, run() puts the unacknowledged lines back for the spool.
    close_discarding_unacknowledged(socket_, unacked);
  }
  disarm_ack_timer();  // a pending timer would keep the io_context running
}

void carbon_writer::start_connection() {
  apply_socket_options();
  auto where = destinations_[current_].to_string();
  // A name says which address it resolved to: DNS changes show in the log.
  error_code ec;
  const auto peer = socket_.remote_endpoint(ec);
  if (!ec && peer.address().to_string() != destinations_[current_].where.host)
    where += " (" + peer.address().to_string() + ")";
  if (logged_down_) {
    auto down = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - down_since_);
    spdlog::info("connected to carbon at {} after {} failed attempts ({:.1f} s); {} lines buffered",
                 where, backoff_.attempts(), static_cast<double>(down.count()) / 1000.0,
                 buffer_.lines());
  } else {
    spdlog::info("connected to carbon at {}", where);
  }
  if (ever_connected_ || logged_down_) ++stats_.reconnects;
  if (ever_connected_to_[current_]) ++destination_stats_[current_].reconnects;
  ever_connected_ = true;
  ever_connected_to_[current_] = true;
  logged_down_ = false;
  last_failure_.clear();
  peer_close_reason_.clear();
  closed_by_peer_ = false;
  disarm_ack_timer();  // a move left the old connection's armed
  connected_at_ = clock::now();
  asio::co_spawn(io_, watch_peer(connection_id_), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  arm_move_timer();
}

void carbon_writer::arm_move_timer() {
  auto due = clock::time_point::max();
  // Fail-back: the earliest moment an earlier destination may be tried again.
  for (std::size_t i = 0; i < current_; ++i)
    due = std::min(due, std::max(passed_over_until_[i], clock::now()));
  if (cfg_.reconnect_interval.count() > 0)
    due = std::min(due, connected_at_ + cfg_.reconnect_interval);
  if (due == clock::time_point::max()) return;
  move_timer_.expires_at(due);
  move_timer_.async_wait([this, id = connection_id_](const error_code& ec) {
    if (ec || id != connection_id_) return;
    move_due_ = true;
    wake_timer_.cancel();
  });
}

asio::awaitable<void> carbon_writer::move_connection() {
  const auto target = preferred_destination();
  const bool failing_back = target != current_;
  if (!failing_back && cfg_.reconnect_interval.count() == 0) co_return;
  const auto to = destinations_[target].to_string();
  tcp::socket fresh(io_);
  auto failure = co_await connect(fresh, destinations_[target].where);
  if (!failure.empty() || finishing_ || !socket_.is_open()) {
    if (!failure.empty()) {
      spdlog::debug("staying on {}: {} still fails: {}", destinations_[current_].to_string(), to,
                    failure);
      if (failing_back) passed_over_until_[target] = clock::now() + cfg_.hold_down;
    }
    error_code ignored;
    fresh.close(ignored);
    if (socket_.is_open()) {
      if (!failing_back) connected_at_ = clock::now();  // next try one interval on
      arm_move_timer();
    }
    co_return;
  }
  // Make-before-break: the new connection is up; the old one gets a FIN
  // after the last write and is closed once its peer acknowledged
  // everything (or after a bounded wait, then the rest is sent again).
  const auto from = destinations_[current_].to_string();
  ++connection_id_;  // the old connection's watcher and timers are stale now
  stall_timer_.cancel();
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  unacked_at_last_drop_ = co_await unacknowledged_after(
      clock::now() + std::min<clock::duration>(cfg_.stall_timeout, 5s));
  close_discarding_unacknowledged(socket_, unacked_at_last_drop_);
  // The old peer closed cleanly after a FIN, so only what it never
  // acknowledged can be missing there.
  replay_unacknowledged(false);
  socket_ = std::move(fresh);
  current_ = target;
  spdlog::info("moved the connection from {} to {} ({}), the old one drained first", from, to,
               failing_back ? "fail-back" : "reconnect_interval");
  start_connection();
}

asio::awaitable<void> carbon_writer::run() {
  bool drained = false;
  for (;;) {
    if (finishing_ && (buffer_.empty() || past_deadline())) break;

    auto failure = co_await connect_first_healthy();
    if (!failure.empty()) {
      if (!logged_down_ || failure != last_failure_) {
        spdlog::warn("cannot connect to carbon at {}: {}; buffering and retrying", describe(),
                     failure);
        if (!logged_down_) down_since_ = clock::now();
        logged_down_ = true;
        last_failure_ = failure;
      }
      auto delay = backoff_.next();
      spdlog::debug("next connection attempt in {} ms", delay.count());
      co_await sleep_for(delay);
      continue;
    }
    start_connection();
    backoff_.reset();

    auto reason = co_await write_while_connected();
    if (reason.empty()) {
      // Finishing and everything written: wait for the acknowledgements.
      co_await close_gracefully();
      if (all_acknowledged_ || past_deadline()) {
        // What is still unacknowledged goes back to the buffer, to be
        // spooled or counted as undelivered.
        if (!all_acknowledged_) replay_unacknowledged(false);
        drained = true;
        break;
      }
      // The connection failed during that wait: what it never acknowledged
      // is sent again on a new one while the deadline allows.
      reason = peer_close_reason_.empty() ? std::string("connection closed") : peer_close_reason_;
    }

    spdlog::warn("connection to carbon at {} lost: {}; buffering and reconnecting",
                 destinations_[current_].to_string(), reason);
    if (destinations_.size() > 1) passed_over_until_[current_] = clock::now() + cfg_.hold_down;
    replay_unacknowledged(true);
    logged_down_ = true;
    last_failure_ = reason;
    down_since_ = clock::now();
    // A short pause even after a clean drop, so a peer that accepts and
    // closes at once cannot make us spin.
    co_await sleep_for(backoff_.next());
  }
  move_timer_.cancel();
  if (!drained) co_await close_gracefully();
  if (!buffer_.empty())
    spdlog::warn("{} lines could not be delivered to {} before the deadline", buffer_.lines(),
                 describe());
}

std::string carbon_writer::describe() const {
  std::string all;
  for (const auto& d : destinations_) all += (all.empty() ? "" : ", ") + d.to_string();
  return all;
}

}  // namespace sockpush
