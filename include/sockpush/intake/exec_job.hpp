// An exec job ([[exec]]): runs a program on its own schedule and forwards
// the Graphite lines it prints, the way collectd's exec plugin and
// Telegraf's exec input do. A run never overlaps the previous one; a run
// past its timeout is killed with its whole process group.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "sockpush/common/asio.hpp"
#include "sockpush/common/interval_schedule.hpp"
#include "sockpush/common/log_limiter.hpp"
#include "sockpush/intake/intake_config.hpp"
#include "sockpush/intake/line_intake.hpp"

namespace sockpush {

struct exec_job_stats {
  std::uint64_t runs = 0;
  std::uint64_t timeouts = 0;  ///< runs killed at their timeout
  std::uint64_t failures = 0;  ///< could not start, or exited non-zero
  std::uint64_t skipped = 0;   ///< rounds missed because a run overran
};

class exec_job {
 public:
  /// `prefix` is the expanded [collect] prefix, used if the job asks for it.
  exec_job(asio::io_context& io, exec_config cfg, milliseconds default_interval,
           const std::string& prefix, line_intake& intake);
  ~exec_job();

  void start();
  /// No further runs; a running one is killed.
  void stop();

  const std::string& name() const { return cfg_.name; }
  const exec_job_stats& stats() const { return stats_; }

 private:
  asio::awaitable<void> run_on_schedule();
  asio::awaitable<void> run_once(std::int64_t timestamp);
  /// Waits for the job to exit, killing its group once past `deadline`;
  /// returns its wait status.
  asio::awaitable<int> reap(pid_t pid, std::chrono::steady_clock::time_point deadline,
                            bool& timed_out, asio::steady_timer& timer);
  /// Counts how a run ended; logs it when that changed.
  void record_end(bool timed_out, int status);
  asio::awaitable<void> forward_stdout(asio::posix::stream_descriptor& pipe,
                                       std::int64_t timestamp);
  asio::awaitable<void> log_stderr(asio::posix::stream_descriptor& pipe);
  void kill_group();

  asio::io_context& io_;
  exec_config cfg_;
  std::string prefix_;
  line_rules rules_;
  line_intake& intake_;
  std::string origin_;
  interval_schedule schedule_;
  asio::steady_timer round_timer_;
  exec_job_stats stats_;
  log_limiter stderr_log_;
  std::string last_failure_;  ///< logged when it changes, not every round
  pid_t running_ = -1;
  bool stopped_ = false;
};

}  // namespace sockpush
