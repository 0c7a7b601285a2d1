// carbon_ch, fnv1a_ch and jump_fnv1a_ch modes: every metric goes to the
// carbon-caches that carbon's relay (or carbon-c-relay's cluster of that type)
// would choose, one copy per `replication`. One carbon_writer per destination,
// each with its own connection (and TLS sessions) and its own share of the
// buffer, so one carbon being down fills (and drops from) only its own share
// and never holds back the other copies.
//
//   shared buffer -> run(): split by metric_placement -> buffer per destination
//                                                      -> carbon_writer each
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/carbon/carbon_config.hpp"
#include "sockpush/carbon/line_writer.hpp"
#include "sockpush/carbon/metric_placement.hpp"
#include "sockpush/common/asio.hpp"

namespace sockpush {

class carbon_writer;

class sharded_writer final : public line_writer {
 public:
  /// One connection per `cfg.destinations`. `buffer` is the shared intake;
  /// each destination gets an equal share of its byte cap (which holds that
  /// destination's copies: with replication N a line takes N shares' room).
  sharded_writer(asio::io_context& io, const carbon_config& cfg, line_buffer& buffer);
  ~sharded_writer() override;

  asio::awaitable<void> run() override;
  void wake() override;
  void finish(std::chrono::steady_clock::time_point deadline) override;
  bool delivered() const override;

  writer_stats stats() const override;
  connection_info connection() const override;
  std::vector<destination_stats> destinations() const override;
  std::uint64_t dropped_lines() const override;
  std::size_t pending_lines() const override;
  std::size_t pending_bytes() const override;

 private:
  /// Moves every line of the shared buffer into its destination's buffer.
  void route();

  struct shard;

  asio::io_context& io_;
  line_buffer& buffer_;
  metric_placement placement_;
  std::vector<std::unique_ptr<shard>> shards_;
  asio::steady_timer wake_timer_;
  std::string batch_;
  /// Per destination: lines routed in this pass, and how many.
  placed_lines routed_;
  bool finishing_ = false;
  std::chrono::steady_clock::time_point deadline_{};
  std::size_t running_ = 0;
};

}  // namespace sockpush
