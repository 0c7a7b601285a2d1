#include "sockpush/collect/kernel_counters_collector.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "sockpush/collect/proc_files.hpp"

namespace sockpush {
namespace {

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    auto start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

template <typename F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    f(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

bool parse_u64(std::string_view text, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

namespace detail {

std::map<std::string, std::uint64_t> parse_sockstat(std::string_view text) {
  std::map<std::string, std::uint64_t> values;
  for_each_line(text, [&](std::string_view line) {
    auto words = split_words(line);
    if (words.empty() || words[0].back() != ':') return;
    std::string proto(words[0].substr(0, words[0].size() - 1));
    std::transform(proto.begin(), proto.end(), proto.begin(), [](char c) {
      return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    for (std::size_t i = 1; i + 1 < words.size(); i += 2) {
      std::uint64_t v = 0;
      if (parse_u64(words[i + 1], v)) values[proto + "." + std::string(words[i])] = v;
    }
  });
  return values;
}

std::map<std::string, std::uint64_t> parse_header_value_pairs(std::string_view text) {
  std::map<std::string, std::uint64_t> values;
  std::vector<std::string_view> header;
  for_each_line(text, [&](std::string_view line) {
    auto words = split_words(line);
    if (words.empty() || words[0].back() != ':') return;
    if (header.empty() || header[0] != words[0]) {
      header = words;  // a names line; the values line with the same group follows
      return;
    }
    auto group = words[0].substr(0, words[0].size() - 1);
    for (std::size_t i = 1; i < words.size() && i < header.size(); ++i) {
      std::uint64_t v = 0;
      if (parse_u64(words[i], v)) values[fmt::format("{}.{}", group, header[i])] = v;
    }
    header.clear();
  });
  return values;
}

}  // namespace detail

std::vector<std::string> default_netstat_counters() {
  return {"TcpExt.TW",
          "TcpExt.TWRecycled",
          "TcpExt.TWKilled",
          "TcpExt.TCPTimeWaitOverflow",
          "TcpExt.ListenOverflows",
          "TcpExt.ListenDrops",
          "Tcp.ActiveOpens",
          "Tcp.PassiveOpens",
          "Tcp.AttemptFails",
          "Tcp.EstabResets",
          "Tcp.RetransSegs",
          "Tcp.CurrEstab"};
}

void sockstat_collector::collect(round_lines& out) {
  auto v4 = read_small_file("/proc/net/sockstat");
  if (!v4) {
    if (!logged_missing_v4_)
      spdlog::info("no /proc/net/sockstat here: socket summary not reported");
    logged_missing_v4_ = true;
    return;
  }
  for (const auto& [key, value] : detail::parse_sockstat(*v4)) out.add("sockstat." + key, value);
  auto v6 = read_small_file("/proc/net/sockstat6");
  if (!v6) {
    if (!logged_missing_v6_) spdlog::info("no /proc/net/sockstat6 (no IPv6): IPv4 summary only");
    logged_missing_v6_ = true;
    return;
  }
  for (const auto& [key, value] : detail::parse_sockstat(*v6)) out.add("sockstat." + key, value);
}

netstat_collector::netstat_collector(std::vector<std::string> counters, bool rates)
    : counters_(std::move(counters)), rates_(rates) {}

void netstat_collector::collect(round_lines& out) {
  auto netstat = read_small_file("/proc/net/netstat");
  auto snmp = read_small_file("/proc/net/snmp");
  if (!netstat && !snmp) {
    if (!logged_missing_)
      spdlog::info("no /proc/net/netstat or /proc/net/snmp here: TCP counters not reported");
    logged_missing_ = true;
    return;
  }
  auto values = detail::parse_header_value_pairs(netstat.value_or("") + "\n" + snmp.value_or(""));
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - previous_time_).count();
  const bool have_previous = !previous_.empty();
  for (const auto& name : counters_) {
    auto it = values.find(name);
    if (it == values.end()) {
      // An older kernel without this counter: say so once, skip it.
      if (std::find(missing_logged_.begin(), missing_logged_.end(), name) ==
          missing_logged_.end()) {
        spdlog::info("kernel has no counter {}; not reported", name);
        missing_logged_.push_back(name);
      }
      continue;
    }
    out.add("netstat." + name, it->second);
    if (!rates_) continue;
    auto prev = previous_.find(name);
    if (have_previous && prev != previous_.end() && it->second >= prev->second && elapsed > 0)
      out.add("netstat_rate." + name, static_cast<double>(it->second - prev->second) / elapsed);
    previous_[name] = it->second;
  }
  previous_time_ = now;
}

}  // namespace sockpush
