// A real carbon-cache (Debian's graphite-carbon) for end-to-end tests: its
// own config, storage and ports under a test directory; points read back
// from its whisper files with whisper-fetch.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace test {

class carbon_cache {
 public:
  /// `name` is its directory under `dir`; `port_block` (0, 1, ...) keeps
  /// the ports of several instances in one test apart; it listens on
  /// `host`, a loopback address.
  explicit carbon_cache(const temp_dir& dir, const std::string& name = "carbon",
                        unsigned port_block = 0, const std::string& host = "127.0.0.1");
  /// Stops it with SIGTERM.
  ~carbon_cache();
  carbon_cache(const carbon_cache&) = delete;
  carbon_cache& operator=(const carbon_cache&) = delete;

  /// Starts carbon-cache and waits until its line receiver listens.
  void start();
  /// SIGTERM: carbon writes its cache out and exits.
  void stop();
  /// SIGKILL: what it had received but not yet written to whisper is gone.
  void kill();
  unsigned line_port() const { return line_port_; }
  std::string address() const { return host_ + ":" + std::to_string(line_port_); }
  const std::string& whisper_dir() const { return whisper_dir_; }

  /// (timestamp, value) points of a metric; empty if its file is not there yet.
  std::map<long long, double> fetch(const std::string& path, long long from, long long until);
  /// Every metric path that has a whisper file.
  std::vector<std::string> metric_paths() const;

 private:
  std::string root_;
  std::string whisper_dir_;
  std::string host_;
  unsigned line_port_ = 0;
  std::unique_ptr<child> process_;
};

/// The daemon's own account of its rounds, read back from carbon
/// (`<prefix>.sockpush.collected_lines`, merged from every cache it fed:
/// round k reports k rounds of lines). Checks that the first point stored is
/// the daemon's first round, the last one its last round before the SIGTERM
/// at `stopped`, and that a round was collected every second in between.
struct run_rounds {
  long long first = 0, last = 0;  ///< seconds of the daemon's first and last round
  std::size_t lines = 0;          ///< lines in each round (fixed-size rounds)
};
run_rounds check_every_round_accounted(const std::map<long long, double>& collected,
                                       long long stopped);

/// A daemon's run as one carbon-cache stored it.
struct stored_run {
  std::map<long long, double> collected;  ///< <prefix>.sockpush.collected_lines
  std::map<long long, double> also;       ///< <prefix>.<also>
  long long stopped = 0;                  ///< when the SIGTERM was sent
  long long end = 0;                      ///< when the daemon had exited
};
/// SIGTERMs `daemon` (it must exit 0 within 15 s), then reads its count and
/// `also` back from `carbon` until the count has the round before the stop
/// and `also` as many points: carbon writes one metric's file after another.
stored_run stop_and_read_back(child& daemon, carbon_cache& carbon, const std::string& prefix,
                              const std::string& also, long long start);

/// carbon-relay's own router (RELAY_METHOD = consistent-hashing), as
/// graphite-carbon builds it from REPLICATION_FACTOR and DIVERSE_REPLICAS,
/// asked for the destinations of each name in the file `names` (one per
/// line): per name, the indexes into `destinations` (carbon's DESTINATIONS,
/// comma-separated) in the router's order, space-separated. Its script is
/// written to `dir`.
std::vector<std::string> carbon_relay_routes(const temp_dir& dir, const std::string& names,
                                             const std::string& destinations,
                                             std::size_t replication, bool diverse_replicas);

}  // namespace test
