#include "sockpush/collect/conntrack_collector.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "sockpush/collect/proc_files.hpp"

namespace sockpush {
namespace detail {

void parse_conntrack_lines(std::string_view text, conntrack_summary& summary) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    // Fields: l3 name, l3 number, l4 name, l4 number, timeout, [state], key=value...
    std::array<std::string_view, 6> head;
    const auto count = split_words(line, head);
    if (count < 5) continue;
    if (head[2] == "tcp" && count == 6 && head[5].find('=') == std::string_view::npos) {
      std::string state(head[5]);
      std::transform(state.begin(), state.end(), state.begin(), [](char c) {
        return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      });
      ++summary.tcp_states[state];
    }
    auto dport = line.find(" dport=");  // the first one is the original direction
    if (dport == std::string_view::npos) continue;
    auto value = line.substr(dport + 7);
    std::uint16_t port = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), port);
    if (ec == std::errc{}) ++summary.destination_ports[port];
  }
}

}  // namespace detail

void conntrack_collector::collect(round_lines& out) {
  auto count = read_integer_file("/proc/sys/net/netfilter/nf_conntrack_count");
  auto max = read_integer_file("/proc/sys/net/netfilter/nf_conntrack_max");
  if (!count || !max) {
    if (!logged_missing_)
      spdlog::info("no connection tracking here (nf_conntrack not loaded): conntrack not reported");
    logged_missing_ = true;
    return;
  }
  out.add("conntrack.count", static_cast<std::uint64_t>(*count));
  out.add("conntrack.max", static_cast<std::uint64_t>(*max));
  out.add("conntrack.fill_percent",
          *max > 0 ? 100.0 * static_cast<double>(*count) / static_cast<double>(*max) : 0.0);

  conntrack_summary summary;
  if (!read_complete_lines("/proc/net/nf_conntrack", [&](std::string_view lines) {
        detail::parse_conntrack_lines(lines, summary);
      })) {
    if (!logged_no_table_)
      spdlog::info(
          "/proc/net/nf_conntrack is not readable: conntrack entries per state not reported");
    logged_no_table_ = true;
    return;
  }

  // Every TCP state always, so graphs do not have holes where a state is empty.
  static constexpr std::string_view tcp_states[] = {"syn_sent",  "syn_recv",   "established",
                                                    "fin_wait",  "close_wait", "last_ack",
                                                    "time_wait", "close"};
  for (auto state : tcp_states) {
    auto it = summary.tcp_states.find(std::string(state));
    out.add(fmt::format("conntrack.tcp.{}", state),
            it == summary.tcp_states.end() ? std::uint64_t{0} : it->second);
  }
  std::vector<std::pair<std::uint64_t, std::uint16_t>> ports;
  for (const auto& [port, n] : summary.destination_ports) ports.emplace_back(n, port);
  auto top = std::min(top_ports_, ports.size());
  std::partial_sort(ports.begin(), ports.begin() + static_cast<std::ptrdiff_t>(top), ports.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; i < top; ++i)
    out.add(fmt::format("conntrack.destination_ports.{}", ports[i].second), ports[i].first);
}

}  // namespace sockpush
