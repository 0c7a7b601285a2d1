// The daemon's wiring: round timer -> collectors -> buffer -> writer, plus
// signals. It owns every component and the order they stop in.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sockpush/app/config.hpp"
#include "sockpush/app/service_notify.hpp"
#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/buffer/outage_spool.hpp"
#include "sockpush/carbon/line_writer.hpp"
#include "sockpush/collect/clock_hold.hpp"
#include "sockpush/collect/collector.hpp"
#include "sockpush/common/asio.hpp"
#include "sockpush/common/metric_path.hpp"
#include "sockpush/intake/exec_job.hpp"
#include "sockpush/intake/line_intake.hpp"
#include "sockpush/intake/listener.hpp"

namespace sockpush {

class daemon {
 public:
  /// Reads the configuration again for SIGHUP; throws config_error if the
  /// new one is invalid (the running one then stays).
  using config_source = std::function<config()>;

  /// `once`: run one round, deliver it, exit. `carried_lines`: lines a
  /// previous daemon (before a reload) could not deliver; they go first.
  daemon(const config& cfg, bool once, config_source reload = {}, std::string carried_lines = {});
  ~daemon();

  /// Runs until SIGTERM/SIGINT (or after one round with `once`), or until a
  /// SIGHUP brought a valid new configuration. Returns the exit code.
  int run();

  /// After run(): a reload was asked for; run a new daemon with
  /// next_config() and leftover_lines().
  bool reload_requested() const { return next_config_.has_value(); }
  const config& next_config() const { return *next_config_; }
  /// Lines still buffered (not delivered by the shutdown deadline).
  std::string leftover_lines();

 private:
  void on_signal(int signal);
  void wait_for_signal();
  asio::awaitable<void> ping_watchdog();
  asio::awaitable<void> run_rounds();
  void collect_round(std::int64_t timestamp);
  void add_self_metrics(round_lines& out) const;
  void add_spool_metrics(round_lines& out) const;
  delivery_progress delivery_now() const;
  void begin_shutdown(const char* why);

  config cfg_;
  bool once_;
  config_source reload_;
  std::optional<config> next_config_;
  service_notifier notifier_;
  std::string prefix_;
  asio::io_context io_{1};
  asio::signal_set signals_;
  asio::steady_timer round_timer_;
  asio::steady_timer watchdog_timer_;
  line_buffer buffer_;
  clock_hold clock_;
  std::unique_ptr<line_writer> writer_;
  /// The outage queue on disk; null without a directory, with --once and
  /// without carbon.
  std::unique_ptr<outage_spool> spool_;
  line_intake intake_;
  std::vector<std::unique_ptr<listener>> listeners_;
  std::vector<std::unique_ptr<exec_job>> exec_jobs_;
  std::vector<std::unique_ptr<collector>> collectors_;
  /// Last error of each collector, so a persistent failure is logged once.
  std::vector<std::string> collector_errors_;
  std::string round_text_;  ///< Reused between rounds to avoid reallocations.
  /// Lines of collection rounds put into the buffer, for the self-metric.
  std::uint64_t collected_lines_ = 0;
  bool stopping_ = false;
  bool writer_lost_output_ = false;
};

}  // namespace sockpush
