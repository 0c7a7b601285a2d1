// The daemon's wiring: round timer -> collectors -> buffer -> writer, plus
// signals. It owns every component and the order they stop in.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sockpush/asio.hpp"
#include "sockpush/clock_hold.hpp"
#include "sockpush/collector.hpp"
#include "sockpush/config.hpp"
#include "sockpush/exec_job.hpp"
#include "sockpush/line_buffer.hpp"
#include "sockpush/line_intake.hpp"
#include "sockpush/line_writer.hpp"
#include "sockpush/listener.hpp"
#include "sockpush/metric.hpp"

namespace sockpush {

class daemon {
 public:
  /// `once`: run one round, deliver it, exit.
  daemon(const config& cfg, bool once);
  ~daemon();

  /// Runs until SIGTERM/SIGINT (or after one round with `once`).
  /// Returns the process exit code.
  int run();

 private:
  asio::awaitable<void> run_rounds();
  void collect_round(std::int64_t timestamp);
  void add_self_metrics(round_lines& out) const;
  void begin_shutdown(const char* why);

  config cfg_;
  bool once_;
  std::string prefix_;
  asio::io_context io_{1};
  asio::signal_set signals_;
  asio::steady_timer round_timer_;
  line_buffer buffer_;
  clock_hold clock_;
  std::unique_ptr<line_writer> writer_;
  line_intake intake_;
  std::vector<std::unique_ptr<listener>> listeners_;
  std::vector<std::unique_ptr<exec_job>> exec_jobs_;
  std::vector<std::unique_ptr<collector>> collectors_;
  /// Last error of each collector, so a persistent failure is logged once.
  std::vector<std::string> collector_errors_;
  std::string round_text_;  ///< Reused between rounds to avoid reallocations.
  bool stopping_ = false;
  bool writer_done_ = false;
  bool writer_lost_output_ = false;
};

}  // namespace sockpush
