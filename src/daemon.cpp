#include "sockpush/daemon.hpp"

#include <spdlog/spdlog.h>

#include <csignal>

#include "sockpush/address.hpp"
#include "sockpush/carbon_writer.hpp"
#include "sockpush/metric.hpp"
#include "sockpush/stdout_writer.hpp"
#include "sockpush/tcp_state_collector.hpp"

namespace sockpush {
namespace {

using std::chrono::system_clock;

void rethrow_if_failed(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

/// First multiple of `interval` (since the epoch) after `now`: rounds land
/// on the same wall-clock instants on every host, and timestamps are evenly
/// spaced even when the process starts at an odd moment.
system_clock::time_point next_boundary(system_clock::time_point now, milliseconds interval) {
  auto since_epoch = std::chrono::duration_cast<milliseconds>(now.time_since_epoch());
  auto next = (since_epoch / interval + 1) * interval;
  return system_clock::time_point(next);
}

std::unique_ptr<line_writer> make_writer(asio::io_context& io, const config& cfg,
                                         line_buffer& buffer) {
  if (cfg.carbon.address == "-") return std::make_unique<stdout_writer>(io, buffer);
  auto destination = parse_host_port(cfg.carbon.address);
  if (!destination) throw config_error("carbon.address '" + cfg.carbon.address + "' is invalid");
  return std::make_unique<carbon_writer>(io, cfg.carbon, *destination, buffer);
}

}  // namespace

daemon::daemon(const config& cfg, bool once)
    : cfg_(cfg),
      once_(once),
      prefix_(expand_prefix(cfg.prefix, short_hostname())),
      signals_(io_, SIGTERM, SIGINT),
      round_timer_(io_),
      buffer_(cfg.buffer_max_bytes),
      writer_(make_writer(io_, cfg_, buffer_)) {
  collectors_.push_back(std::make_unique<tcp_state_collector>());
  collector_errors_.resize(collectors_.size());
}

daemon::~daemon() = default;

void daemon::begin_shutdown(const char* why) {
  if (stopping_) return;
  stopping_ = true;
  round_timer_.cancel();
  spdlog::info("stopping ({}): delivering {} buffered lines, at most {} ms", why, buffer_.lines(),
               cfg_.shutdown_timeout.count());
  writer_->finish(std::chrono::steady_clock::now() + cfg_.shutdown_timeout);
}

void daemon::collect_round(std::int64_t timestamp) {
  round_text_.clear();
  round_lines out(round_text_, prefix_, timestamp);
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
  const auto& stats = writer_->stats();
  out.add("sockpush.sent_lines", stats.sent_lines);
  out.add("sockpush.dropped_lines", buffer_.dropped_lines());
  out.add("sockpush.buffered_lines", static_cast<std::uint64_t>(buffer_.lines()));
  out.add("sockpush.reconnects", stats.reconnects);
  buffer_.push(round_text_);
  writer_->wake();
}

asio::awaitable<void> daemon::run_rounds() {
  if (once_) {
    collect_round(system_clock::to_time_t(system_clock::now()));
    begin_shutdown("--once");
    co_return;
  }
  auto next = next_boundary(system_clock::now(), cfg_.interval);
  while (!stopping_) {
    // Waiting on the steady clock for the wall-clock distance, re-measured
    // each round: a clock step (NTP on a router that booted in 1970) costs
    // at most one odd round instead of a sleep of years or a burst.
    auto now = system_clock::now();
    auto wait = std::clamp<system_clock::duration>(next - now, system_clock::duration::zero(),
                                                    cfg_.interval);
    round_timer_.expires_after(wait);
    error_code ec;
    co_await round_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) break;
    collect_round(system_clock::to_time_t(next));
    next += cfg_.interval;
    now = system_clock::now();
    if (next <= now) {
      spdlog::debug("collection round late; skipping to the next interval boundary");
      next = next_boundary(now, cfg_.interval);
    } else if (next - now > cfg_.interval * 2) {
      next = next_boundary(now, cfg_.interval);  // clock stepped back
    }
  }
}

int daemon::run() {
  signals_.async_wait([this](const error_code& ec, int signal) {
    if (ec) return;
    begin_shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
    // A second signal while flushing means "now".
    signals_.async_wait([this](const error_code& again, int) {
      if (!again) io_.stop();
    });
  });
  asio::co_spawn(io_, writer_->run(), [this](std::exception_ptr e) {
    rethrow_if_failed(e);
    writer_done_ = true;
    // Without a stop request the writer only ends when its output is gone
    // (stdout closed): nothing collected from now on could go anywhere.
    if (!stopping_) writer_lost_output_ = true;
    stopping_ = true;
    round_timer_.cancel();
    signals_.cancel();
  });
  asio::co_spawn(io_, run_rounds(), rethrow_if_failed);
  io_.run();

  if (once_) return writer_->delivered() ? 0 : 1;
  return writer_lost_output_ ? 1 : 0;
}

}  // namespace sockpush
