#include "sockpush/collect/tcp_state_collector.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>

#include "sockpush/common/metric_path.hpp"

namespace sockpush {
namespace {

constexpr std::uint8_t tcp_listen = 10;

void add_port_states(round_lines& out, std::string_view kind, std::uint16_t port,
                     const tcp_state_counts& counts) {
  for (std::size_t state = 1; state < tcp_state_count; ++state)
    out.add(fmt::format("tcp.{}.{}.{}", kind, port, tcp_state_names[state]), counts[state]);
}

double round_to_hundredths(double value) {
  return std::round(value * 100.0) / 100.0;
}

}  // namespace

double listen_queue::fill_percent() const {
  // listen(fd, 0) still queues one connection: count it as a full queue.
  return 100.0 * accept_queue / std::max<std::uint32_t>(backlog, 1);
}

std::string destination_usage::metric_name() const {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, address.data(), text, sizeof text);
  return sanitize_path_component(fmt::format("{}_{}", text, port));
}

std::size_t tcp_state_collector::destination_hash::operator()(const destination_key& k) const {
  // FNV-1a over the key's bytes: cheap, and good enough for addresses.
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::uint8_t byte) { h = (h ^ byte) * 1099511628211ULL; };
  for (auto b : k.address) mix(b);
  mix(static_cast<std::uint8_t>(k.port));
  mix(static_cast<std::uint8_t>(k.port >> 8));
  mix(k.family);
  return static_cast<std::size_t>(h);
}

tcp_state_collector::tcp_state_collector(tcp_collector_options options, bool force_proc)
    : options_(std::move(options)),
      sockets_(IPPROTO_TCP, force_proc),
      subnets_(options_.remote_subnets),
      subnet_counts_(subnets_.size()) {
  for (auto p : options_.local_ports) tracked_local_.set(p);
  for (auto p : options_.remote_ports) tracked_remote_.set(p);
}

void tcp_state_collector::add_listener(const socket_record& s) {
  const listen_queue seen{s.receive_queue, s.send_queue};
  max_fill_percent_ = std::max(max_fill_percent_, seen.fill_percent());
  auto [it, first] = listen_queues_.try_emplace(s.local_port, seen);
  auto& fullest = it->second;
  if (!first && (seen.accept_queue > fullest.accept_queue ||
                 (seen.accept_queue == fullest.accept_queue && seen.backlog < fullest.backlog)))
    fullest = seen;
}

void tcp_state_collector::visit(const socket_record& s) {
  if (s.state >= tcp_state_count) return;
  ++states_[s.state];
  // Both the dump and /proc list listening sockets before connections, so
  // by the time a connection comes, its local port is known to be a
  // server's if it is one.
  if (s.state == tcp_listen) {
    listening_.set(s.local_port);
    if (options_.listen_queues) add_listener(s);
  }
  // A listener, or a socket never connected, has no peer (port 0).
  if (!subnets_.empty() && s.remote_port != 0) {
    const auto subnet = subnets_.find(s.family, s.remote_address);
    if (subnet != subnet_table::no_subnet) ++subnet_counts_[subnet][s.state];
  }
  if (tracked_local_[s.local_port]) ++local_counts_[s.local_port][s.state];
  if (tracked_remote_[s.remote_port]) ++remote_counts_[s.remote_port][s.state];
  const bool from_ephemeral_range = ephemeral_ && ephemeral_->range.contains(s.local_port);
  if (options_.listening_ports && !from_ephemeral_range && !tracked_local_[s.local_port])
    ++server_port_counts_[s.local_port][s.state];
  // A server listening on a port inside the range (a test sink on port 0)
  // did not take its connections' local ports from the range.
  if (options_.ephemeral && from_ephemeral_range && !listening_[s.local_port] &&
      ephemeral_->usable(s.local_port)) {
    destination_key key{s.remote_address, s.remote_port, s.family};
    ++destinations_[key];
  }
}

void tcp_state_collector::reset_counts() {
  states_ = {};
  listening_.reset();
  for (auto p : options_.local_ports) local_counts_[p] = {};
  for (auto p : options_.remote_ports) remote_counts_[p] = {};
  server_port_counts_.clear();
  destinations_.clear();  // keeps its buckets: no rehashing round after round
  listen_queues_.clear();
  max_fill_percent_ = 0;
  std::fill(subnet_counts_.begin(), subnet_counts_.end(), tcp_state_counts{});
}

void tcp_state_collector::scan() {
  reset_counts();
  // Read every round: someone may widen the range to fight exhaustion.
  if (options_.ephemeral || options_.listening_ports) ephemeral_ = read_ephemeral_ports();
  sockets_.visit(
      all_socket_states, [this](const socket_record& s) { visit(s); }, [this] { reset_counts(); });
}

std::vector<destination_usage> tcp_state_collector::busiest_destinations() const {
  std::vector<destination_usage> all;
  all.reserve(destinations_.size());
  for (const auto& [key, used] : destinations_)
    all.push_back({key.family, key.address, key.port, used});
  auto top = std::min(options_.ephemeral_top, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(top), all.end(),
                    [](const auto& a, const auto& b) { return a.used > b.used; });
  all.resize(top);
  return all;
}

void tcp_state_collector::collect(round_lines& out) {
  scan();
  for (std::size_t state = 1; state < tcp_state_count; ++state)
    out.add(fmt::format("tcp.states.{}", tcp_state_names[state]), states_[state]);
  for (const auto& [port, counts] : local_counts_) add_port_states(out, "local_port", port, counts);
  for (const auto& [port, counts] : remote_counts_)
    add_port_states(out, "remote_port", port, counts);
  if (options_.listening_ports) {
    std::map<std::uint16_t, const tcp_state_counts*> listening;  // sorted output
    for (const auto& [port, counts] : server_port_counts_)
      if (counts[tcp_listen] > 0) listening[port] = &counts;
    for (const auto& [port, counts] : listening) add_port_states(out, "local_port", port, *counts);
  }
  if (options_.ephemeral && ephemeral_) {
    const auto range_size = ephemeral_->size();
    std::uint64_t max_used = 0;
    for (const auto& [key, used] : destinations_) max_used = std::max(max_used, used);
    out.add("tcp.ephemeral.range_size", static_cast<std::uint64_t>(range_size));
    out.add("tcp.ephemeral.max_used", max_used);
    const double percent =
        range_size == 0 ? 0.0 : 100.0 * static_cast<double>(max_used) / range_size;
    out.add("tcp.ephemeral.max_used_percent", round_to_hundredths(percent));
    for (const auto& d : busiest_destinations())
      out.add(fmt::format("tcp.ephemeral.destinations.{}.used", d.metric_name()), d.used);
  }
  if (options_.listen_queues) {
    // /proc/net/tcp prints 0 for a listener's tx_queue, not its backlog.
    const bool backlog_known = sockets_.from() == socket_table::source::sock_diag;
    for (const auto& [port, queue] : listen_queues_) {
      out.add(fmt::format("tcp.listen.{}.accept_queue", port), std::uint64_t{queue.accept_queue});
      if (!backlog_known) continue;
      out.add(fmt::format("tcp.listen.{}.backlog", port), std::uint64_t{queue.backlog});
      out.add(fmt::format("tcp.listen.{}.fill_percent", port),
              round_to_hundredths(queue.fill_percent()));
    }
    if (backlog_known)
      out.add("tcp.listen.max_fill_percent", round_to_hundredths(max_fill_percent_));
  }
  for (std::size_t subnet = 0; subnet < subnets_.size(); ++subnet)
    for (std::size_t state = 1; state < tcp_state_count; ++state)
      if (state != tcp_listen)
        out.add(
            fmt::format("tcp.remote_subnet.{}.{}", subnets_.name(subnet), tcp_state_names[state]),
            subnet_counts_[subnet][state]);
}

}  // namespace sockpush
