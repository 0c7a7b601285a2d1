// The scaffolding most system tests share: the network they run in, a temp
// dir, a line sink standing in for carbon, the daemon started against it,
// its rounds awaited, and its stop by SIGTERM.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "support/process.hpp"

namespace test {

enum class network : std::uint8_t {
  host_loopback,      ///< the test's own network namespace, on 127.0.0.1
  private_namespace,  ///< a network namespace of the test's own, lo only (route checked)
};

class daemon_run {
 public:
  /// Enters the network (a test failure if it cannot), then makes the dir.
  explicit daemon_run(network where = network::host_loopback);

  /// Writes the config file dir/sockpush.toml; returns its path.
  std::string config(const std::string& toml) const;
  /// A line sink standing in for carbon, started on first use, and its address.
  line_sink& sink();
  std::string carbon() { return loopback(sink().port()); }
  /// Starts the daemon. Its stderr goes to dir/log, its stdout to
  /// `stdout_file` (or inherited).
  child& start(const daemon_options& options, const std::string& stdout_file = {});
  child& daemon() { return *daemon_; }
  /// Waits up to `limit` until the sink holds `count` values of the metric
  /// whose path ends with `suffix`.
  bool received(const std::string& suffix, std::size_t count,
                std::chrono::milliseconds limit = std::chrono::seconds(20));
  /// SIGTERM, then the exit code within `limit` (-1: still running).
  int stop(std::chrono::milliseconds limit = std::chrono::seconds(10));
  std::string log() const { return read_file(dir / "log"); }

 private:
  bool entered_;  ///< before `dir`: everything is made inside the network

 public:
  const temp_dir dir;

 private:
  std::optional<line_sink> sink_;
  std::unique_ptr<child> daemon_;
};

}  // namespace test
