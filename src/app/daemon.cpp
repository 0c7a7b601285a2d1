#include "sockpush/app/daemon.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>

#include "sockpush/buffer/spool.hpp"
#include "sockpush/carbon/carbon_writer.hpp"
#include "sockpush/carbon/destination.hpp"
#include "sockpush/carbon/sharded_writer.hpp"
#include "sockpush/carbon/stdout_writer.hpp"
#include "sockpush/collect/conntrack_collector.hpp"
#include "sockpush/collect/kernel_counters_collector.hpp"
#include "sockpush/collect/settings_collector.hpp"
#include "sockpush/collect/tcp_state_collector.hpp"
#include "sockpush/collect/udp_collector.hpp"
#include "sockpush/common/interval_schedule.hpp"
#include "sockpush/common/metric_path.hpp"

namespace sockpush {
namespace {

using std::chrono::system_clock;

/// The configured state directory, or the first of systemd's StateDirectory=.
std::string state_directory(const config& cfg) {
  if (!cfg.state_dir.empty()) return cfg.state_dir;
  const char* from_systemd = std::getenv("STATE_DIRECTORY");
  if (!from_systemd) return {};
  std::string dir(from_systemd);
  return dir.substr(0, dir.find(':'));
}

std::unique_ptr<line_writer> make_writer(asio::io_context& io, const config& cfg,
                                         line_buffer& buffer) {
  const auto& destinations = cfg.carbon.destinations;
  if (destinations.empty()) return std::make_unique<stdout_writer>(io, buffer);
  warn_if_unverified(cfg.carbon.tls);
  warn_if_fewer_hosts_than_copies(cfg.carbon);
  if (places_each_metric(cfg.carbon.mode) && destinations.size() > 1)
    return std::make_unique<sharded_writer>(io, cfg.carbon, buffer);
  return std::make_unique<carbon_writer>(io, cfg.carbon, destinations, buffer);
}

}  // namespace

daemon::daemon(const config& cfg, bool once, config_source reload, std::string carried_lines)
    : cfg_(cfg),
      once_(once),
      reload_(std::move(reload)),
      prefix_(expand_prefix(cfg.prefix, short_hostname())),
      signals_(io_, SIGTERM, SIGINT, SIGHUP),
      round_timer_(io_),
      watchdog_timer_(io_),
      buffer_(cfg.buffer_max_bytes),
      clock_(cfg.clock, cfg.buffer_max_bytes / 2),
      writer_(make_writer(io_, cfg_, buffer_)),
      intake_(buffer_, [this] { writer_->wake(); }, {cfg.path_chars, {}}) {
  const auto& c = cfg_.collectors;
  tcp_collector_options tcp{.local_ports = c.tcp_local_ports,
                            .remote_ports = c.tcp_remote_ports,
                            .listening_ports = c.tcp_listening_ports,
                            .ephemeral = c.ephemeral,
                            .ephemeral_top = c.ephemeral_top,
                            .listen_queues = c.tcp_listen_queues,
                            .remote_subnets = c.tcp_remote_subnets};
  collectors_.push_back(std::make_unique<tcp_state_collector>(std::move(tcp)));
  if (c.udp) collectors_.push_back(std::make_unique<udp_collector>());
  if (c.sockstat) collectors_.push_back(std::make_unique<sockstat_collector>());
  if (c.netstat)
    collectors_.push_back(std::make_unique<netstat_collector>(
        c.netstat_counters.empty() ? default_netstat_counters() : c.netstat_counters,
        c.netstat_rates));
  if (c.conntrack)
    collectors_.push_back(std::make_unique<conntrack_collector>(c.conntrack_top_ports));
  if (c.settings) collectors_.push_back(std::make_unique<settings_collector>());
  collector_errors_.resize(collectors_.size());
  auto spool_settings = cfg_.spool;
  if (spool_settings.directory.empty()) spool_settings.directory = state_directory(cfg_);
  if (!once && !cfg_.carbon.destinations.empty() && !spool_settings.directory.empty()) {
    spool_ = std::make_unique<outage_spool>(
        io_, spool_settings, buffer_, [this] { return delivery_now(); },
        [this] { writer_->wake(); });
    // A quarter of the buffer per spill: few, large records, and room left
    // for what keeps arriving.
    buffer_.spill_to(spool_.get(), std::max<std::size_t>(buffer_.max_bytes() / 4, 1));
  }
  // Oldest first: what an earlier version spooled, then what a reload
  // carried over (the outage queue's own lines are replayed beside them).
  if (!once) {
    if (auto spooled = take_old_spool(state_directory(cfg_)); !spooled.empty())
      buffer_.push(spooled);
  }
  if (!carried_lines.empty()) buffer_.push(carried_lines);
  // Listeners bind here, so a taken port fails the start with a clear error.
  for (const auto& l : cfg_.listeners)
    listeners_.push_back(std::make_unique<listener>(io_, l, intake_));
  for (const auto& job : cfg_.exec_jobs)
    exec_jobs_.push_back(std::make_unique<exec_job>(io_, job, cfg_.interval, prefix_, intake_));
}

daemon::~daemon() = default;

void daemon::begin_shutdown(const char* why) {
  if (stopping_) return;
  stopping_ = true;
  round_timer_.cancel();
  watchdog_timer_.cancel();
  // No more replays: what the queue holds stays there for the next start.
  if (spool_) spool_->stop();
  if (!next_config_) notifier_.stopping();  // a reload said RELOADING=1 instead
  // Sources stop first: what they already accepted is in the buffer and
  // goes out with the rest.
  for (auto& l : listeners_) l->stop();
  for (auto& job : exec_jobs_) job->stop();
  // A reload carries whatever is undelivered over to the new configuration,
  // which sends it first: waiting for carbon here would only stop the
  // rounds for as long (and for all of shutdown_timeout if carbon is down).
  const auto allowed = next_config_ ? milliseconds{0} : cfg_.shutdown_timeout;
  spdlog::info("stopping ({}): delivering {} buffered lines, at most {} ms", why, buffer_.lines(),
               allowed.count());
  writer_->finish(std::chrono::steady_clock::now() + allowed);
}

void daemon::collect_round(std::int64_t timestamp) {
  const auto wall_now = static_cast<std::int64_t>(system_clock::to_time_t(system_clock::now()));
  // --once must send its one round now; holding it would send nothing.
  const bool clock_trusted = once_ || clock_.trusted(wall_now);
  if (!clock_trusted && !clock_.holding())
    spdlog::warn(
        "the system clock reads {}, before {} (clock.not_before{}): holding rounds until "
        "it is set, then sending them with corrected timestamps",
        wall_now, cfg_.clock.not_before, cfg_.clock.require_sync ? " or not synchronised" : "");
  round_text_.clear();
  round_lines out(round_text_, prefix_, clock_trusted ? timestamp : 0);
  for (std::size_t i = 0; i < collectors_.size(); ++i) {
    auto& c = *collectors_[i];
    try {
      c.collect(out);
      if (!collector_errors_[i].empty()) spdlog::info("collector {} works again", c.name());
      collector_errors_[i].clear();
    } catch (const std::exception& e) {
      // Logged when the error starts or changes, not every round.
      if (collector_errors_[i] != e.what())
        spdlog::error("collector {} failed: {}", c.name(), e.what());
      collector_errors_[i] = e.what();
    }
  }
  add_self_metrics(out);
  if (!clock_trusted) {
    clock_.hold(round_text_, std::chrono::steady_clock::now());
    return;
  }
  if (clock_.holding()) {
    std::string released;
    auto rounds =
        clock_.release(released, wall_now, std::chrono::steady_clock::now(), cfg_.interval);
    spdlog::info("the system clock is set: sending {} held rounds with corrected timestamps",
                 rounds);
    collected_lines_ += count_lines(released);
    buffer_.push(released);
  }
  collected_lines_ += count_lines(round_text_);
  buffer_.push(round_text_);
  writer_->wake();
}

void daemon::add_self_metrics(round_lines& out) const {
  const auto stats = writer_->stats();
  // Every line is in exactly one place: collected_lines + received_lines ==
  // sent_lines - replayed_lines + buffered_lines + spool.lines +
  // dropped_lines.{overflow, spool_full, spool_corrupt, spool_io_error}.
  // With replication, what left the shared buffer counts once per copy.
  out.add("sockpush.collected_lines", collected_lines_);
  out.add("sockpush.sent_lines", stats.sent_lines);
  out.add("sockpush.dropped_lines.overflow", buffer_.dropped_lines() + writer_->dropped_lines());
  out.add("sockpush.dropped_lines.invalid", intake_.invalid().total());
  out.add("sockpush.buffered_lines",
          static_cast<std::uint64_t>(buffer_.lines() + writer_->pending_lines()));
  out.add("sockpush.reconnects", stats.reconnects);
  out.add("sockpush.replayed_lines", stats.replayed_lines);
  add_spool_metrics(out);
  for (std::size_t i = 0; i < disconnect_cause_count; ++i)
    out.add(fmt::format("sockpush.disconnects.{}", disconnect_cause_names[i]),
            stats.disconnects.values[i]);
  for (const auto& d : writer_->destinations()) {
    out.add(fmt::format("sockpush.destinations.{}.sent_lines", d.name), d.sent_lines);
    out.add(fmt::format("sockpush.destinations.{}.reconnects", d.name), d.reconnects);
    out.add(fmt::format("sockpush.destinations.{}.connected", d.name), std::uint64_t{d.connected});
    if (d.own_buffer) {
      out.add(fmt::format("sockpush.destinations.{}.buffered_lines", d.name), d.buffered_lines);
      out.add(fmt::format("sockpush.destinations.{}.dropped_lines", d.name), d.dropped_lines);
    }
    if (cfg_.carbon.tls.enabled)
      out.add(fmt::format("sockpush.destinations.{}.tls_resumed", d.name),
              std::uint64_t{d.tls_resumed});
  }
  // Every round, zeros while disconnected: graphs without holes, and a
  // lossy path (retransmits, rtt) told apart from a slow carbon (unacked).
  const auto link = writer_->connection();
  out.add("sockpush.connection.connected", std::uint64_t{link.connected});
  out.add("sockpush.connection.rtt_ms", link.rtt_ms);
  out.add("sockpush.connection.retransmits", link.retransmits);
  out.add("sockpush.connection.unacked_bytes", link.unacked_bytes);
  if (cfg_.carbon.tls.enabled) {
    out.add("sockpush.connection.tls", std::uint64_t{link.tls});
    out.add("sockpush.connection.tls_resumed", std::uint64_t{link.tls_resumed});
    for (std::size_t i = 0; i < tls_failure_count; ++i)
      out.add(fmt::format("sockpush.tls.handshake_failures.{}", tls_failure_names[i]),
              stats.tls_handshake_failures.values[i]);
  }
  if (listeners_.empty() && exec_jobs_.empty()) return;
  out.add("sockpush.received_lines", intake_.accepted_lines());
  const auto& invalid = intake_.invalid();
  for (std::size_t i = 0; i < line_verdict_count; ++i) {
    auto reason = static_cast<line_verdict>(i);
    if (reason == line_verdict::ok || reason == line_verdict::empty) continue;
    out.add(fmt::format("sockpush.invalid_lines.{}", to_string(reason)), invalid.by_reason[i]);
  }
  for (const auto& l : listeners_) {
    const auto& name = l->metric_name();
    out.add(fmt::format("sockpush.listen.{}.clients", name),
            static_cast<std::uint64_t>(l->clients()));
    out.add(fmt::format("sockpush.listen.{}.refused_clients", name), l->refused_clients());
  }
  for (const auto& job : exec_jobs_) {
    const auto& s = job->stats();
    out.add(fmt::format("sockpush.exec.{}.runs", job->name()), s.runs);
    out.add(fmt::format("sockpush.exec.{}.timeouts", job->name()), s.timeouts);
    out.add(fmt::format("sockpush.exec.{}.failures", job->name()), s.failures);
    out.add(fmt::format("sockpush.exec.{}.skipped_rounds", job->name()), s.skipped);
  }
}

void daemon::add_spool_metrics(round_lines& out) const {
  if (!spool_) return;
  const auto& queue = spool_->queue();
  const auto& s = queue.stats();
  const auto oldest = queue.oldest_written_at();
  const auto now = static_cast<std::int64_t>(system_clock::to_time_t(system_clock::now()));
  out.add("sockpush.spool.bytes", queue.bytes());
  out.add("sockpush.spool.segments", static_cast<std::uint64_t>(queue.segments()));
  out.add("sockpush.spool.lines", queue.unread_lines());
  out.add("sockpush.spool.oldest_age",
          static_cast<std::uint64_t>(oldest ? std::max<std::int64_t>(now - *oldest, 0) : 0));
  out.add("sockpush.spool.written_bytes", s.written_bytes);
  out.add("sockpush.spool.fsyncs", s.fsyncs);
  out.add("sockpush.spool.replayed_lines", s.replayed_lines);
  out.add("sockpush.dropped_lines.spool_full", s.dropped_full);
  out.add("sockpush.dropped_lines.spool_corrupt", s.dropped_corrupt);
  out.add("sockpush.dropped_lines.spool_io_error", s.dropped_io_error);
}

delivery_progress daemon::delivery_now() const {
  // What left the buffer and is not acknowledged yet: the writer's batch
  // (or its destinations' buffers) and the kernel's unacknowledged bytes.
  // TLS counts record bytes there, more than the lines: on the safe side.
  const auto link = writer_->connection();
  const std::uint64_t in_flight = writer_->pending_bytes() + link.unacked_bytes;
  const auto front = buffer_.front_position();
  return {.connected = link.connected, .acknowledged_position = front - std::min(front, in_flight)};
}

asio::awaitable<void> daemon::run_rounds() {
  if (once_) {
    collect_round(system_clock::to_time_t(system_clock::now()));
    begin_shutdown("--once");
    co_return;
  }
  interval_schedule schedule(cfg_.interval);
  bool first_round = true;
  while (!stopping_) {
    round_timer_.expires_after(schedule.wait());
    error_code ec;
    co_await round_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) break;
    collect_round(schedule.due());
    if (first_round) {
      // Type=notify: "started" means the first round is in the buffer.
      notifier_.ready();
      first_round = false;
    }
    if (schedule.advance() > 0)
      spdlog::debug("collection round late; skipped to the next interval boundary");
  }
}

asio::awaitable<void> daemon::ping_watchdog() {
  // From the event loop itself: if the loop stalls, the pings stop and
  // systemd restarts the service.
  while (!stopping_) {
    notifier_.watchdog();
    watchdog_timer_.expires_after(*notifier_.watchdog_interval());
    error_code ec;
    co_await watchdog_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void daemon::wait_for_signal() {
  signals_.async_wait([this](const error_code& ec, int signal) {
    if (!ec) on_signal(signal);
  });
}

void daemon::on_signal(int signal) {
  if (stopping_) {
    // A second SIGTERM/SIGINT while flushing means "now".
    if (signal != SIGHUP) {
      io_.stop();
      return;
    }
  } else if (signal == SIGHUP) {
    if (!reload_) {
      spdlog::warn("SIGHUP ignored: there is no configuration file to read again");
    } else {
      try {
        next_config_ = reload_();
        notifier_.reloading();
        begin_shutdown("SIGHUP: reloading the configuration");
      } catch (const std::exception& e) {
        spdlog::error("reload refused, the running configuration stays: {}", e.what());
      }
    }
  } else {
    begin_shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
  }
  wait_for_signal();
}

std::string daemon::leftover_lines() {
  std::string lines;
  buffer_.take(lines, buffer_.bytes());
  return lines;
}

int daemon::run() {
  wait_for_signal();
  if (notifier_.watchdog_interval() && !once_)
    asio::co_spawn(io_, ping_watchdog(), rethrow_if_failed);
  asio::co_spawn(io_, writer_->run(), [this](std::exception_ptr e) {
    rethrow_if_failed(e);
    // Without a stop request the writer only ends when its output is gone
    // (stdout closed): nothing collected from now on could go anywhere.
    if (!stopping_) writer_lost_output_ = true;
    stopping_ = true;
    round_timer_.cancel();
    watchdog_timer_.cancel();
    signals_.cancel();
    if (spool_) spool_->stop();
  });
  asio::co_spawn(io_, run_rounds(), rethrow_if_failed);
  if (spool_) asio::co_spawn(io_, spool_->run(), rethrow_if_failed);
  if (!once_) {
    for (auto& l : listeners_) l->start();
    for (auto& job : exec_jobs_) job->start();
  }
  io_.run();

  if (once_) return writer_->delivered() ? 0 : 1;
  // A reload carries the buffer over to the next configuration itself.
  if (spool_)
    spool_->close(writer_->delivered(), !reload_requested());
  else if (!buffer_.empty() && !reload_requested())
    spdlog::warn(
        "{} undelivered lines lost at shutdown (set daemon.state_dir or "
        "buffer.spool_dir to keep them)",
        buffer_.lines());
  return writer_lost_output_ ? 1 : 0;
}

}  // namespace sockpush
