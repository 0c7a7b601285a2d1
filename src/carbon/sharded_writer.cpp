#include "sockpush/carbon/sharded_writer.hpp"

#include <algorithm>

#include "sockpush/carbon/carbon_writer.hpp"

namespace sockpush {
namespace {

/// Lines routed per pass, so one pass never holds a large copy.
constexpr std::size_t route_batch_bytes = 256 * 1024;

}  // namespace

struct sharded_writer::shard {
  explicit shard(std::size_t max_bytes) : buffer(max_bytes) {}
  line_buffer buffer;
  std::unique_ptr<carbon_writer> writer;
};

sharded_writer::sharded_writer(asio::io_context& io, const carbon_config& cfg, line_buffer& buffer)
    : io_(io),
      buffer_(buffer),
      placement_(cfg.mode, cfg.destinations, cfg.replication, cfg.diverse_replicas),
      wake_timer_(io, std::chrono::steady_clock::time_point::max()),
      routed_(cfg.destinations.size()) {
  const auto share = std::max<std::size_t>(buffer.max_bytes() / cfg.destinations.size(), 4096);
  for (const auto& destination : cfg.destinations) {
    auto s = std::make_unique<shard>(share);
    s->writer = std::make_unique<carbon_writer>(io, cfg, std::vector{destination}, s->buffer);
    shards_.push_back(std::move(s));
  }
}

sharded_writer::~sharded_writer() = default;

void sharded_writer::route() {
  while (!buffer_.empty()) {
    batch_.clear();
    buffer_.take(batch_, route_batch_bytes);
    place_lines(placement_, batch_, routed_);
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      if (routed_.counts[i] == 0) continue;
      shards_[i]->buffer.push(routed_.lines[i], routed_.counts[i]);
      shards_[i]->writer->wake();
      routed_.lines[i].clear();
      routed_.counts[i] = 0;
    }
  }
}

asio::awaitable<void> sharded_writer::run() {
  running_ = shards_.size();
  for (auto& s : shards_)
    asio::co_spawn(io_, s->writer->run(), [this](std::exception_ptr e) {
      rethrow_if_failed(e);
      --running_;
      wake_timer_.cancel();
    });
  error_code ec;
  while (!finishing_) {
    route();
    co_await wake_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  route();
  for (auto& s : shards_) s->writer->finish(deadline_);
  while (running_ > 0)
    co_await wake_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  // What no shard could deliver goes back to the shared buffer, where the
  // daemon spools it or hands it to the next configuration.
  for (auto& s : shards_) {
    batch_.clear();
    const auto lines = s->buffer.take(batch_, s->buffer.bytes());
    if (lines > 0) buffer_.push(batch_, lines);
  }
}

void sharded_writer::wake() {
  wake_timer_.cancel();
}

void sharded_writer::finish(std::chrono::steady_clock::time_point deadline) {
  finishing_ = true;
  deadline_ = deadline;
  wake_timer_.cancel();
}

bool sharded_writer::delivered() const {
  return buffer_.empty() && std::all_of(shards_.begin(), shards_.end(),
                                        [](const auto& s) { return s->writer->delivered(); });
}

writer_stats sharded_writer::stats() const {
  writer_stats sum;
  for (const auto& s : shards_) sum += s->writer->stats();
  return sum;
}

connection_info sharded_writer::connection() const {
  // connected (TLS, resumed) only when every shard is; the worst rtt;
  // totals otherwise.
  connection_info all;
  all.connected = all.tls = all.tls_resumed = true;
  for (const auto& s : shards_) {
    const auto one = s->writer->connection();
    all.connected = all.connected && one.connected;
    all.tls = all.tls && one.tls;
    all.tls_resumed = all.tls_resumed && one.tls_resumed;
    all.rtt_ms = std::max(all.rtt_ms, one.rtt_ms);
    all.retransmits += one.retransmits;
    all.unacked_bytes += one.unacked_bytes;
  }
  return all;
}

std::vector<destination_stats> sharded_writer::destinations() const {
  std::vector<destination_stats> all;
  for (const auto& s : shards_)
    for (auto& one : s->writer->destinations()) {
      one.own_buffer = true;
      one.buffered_lines = s->buffer.lines() + s->writer->pending_lines();
      one.dropped_lines = s->buffer.dropped_lines();
      all.push_back(std::move(one));
    }
  return all;
}

std::size_t sharded_writer::pending_lines() const {
  std::size_t sum = 0;
  for (const auto& s : shards_) sum += s->buffer.lines() + s->writer->pending_lines();
  return sum;
}

std::size_t sharded_writer::pending_bytes() const {
  std::size_t sum = 0;
  for (const auto& s : shards_) sum += s->buffer.bytes() + s->writer->pending_bytes();
  return sum;
}

std::uint64_t sharded_writer::dropped_lines() const {
  std::uint64_t sum = 0;
  for (const auto& s : shards_) sum += s->buffer.dropped_lines();
  return sum;
}

}  // namespace sockpush
