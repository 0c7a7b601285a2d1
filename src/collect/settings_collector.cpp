#include "sockpush/collect/settings_collector.hpp"

#include <cstdint>
#include <string_view>

#include "sockpush/collect/proc_files.hpp"

namespace sockpush {

void settings_collector::collect(round_lines& out) {
  struct setting {
    std::string_view metric;
    const char* path;
  };
  static constexpr setting settings[] = {
      {"settings.tcp_fin_timeout", "/proc/sys/net/ipv4/tcp_fin_timeout"},
      {"settings.tcp_tw_reuse", "/proc/sys/net/ipv4/tcp_tw_reuse"},
      {"settings.tcp_max_tw_buckets", "/proc/sys/net/ipv4/tcp_max_tw_buckets"},
  };
  for (const auto& s : settings)
    if (auto value = read_integer_file(s.path); value && *value >= 0)
      out.add(s.metric, static_cast<std::uint64_t>(*value));
  if (auto ports = read_ephemeral_ports())
    out.add("settings.ephemeral_ports", static_cast<std::uint64_t>(ports->size()));
}

}  // namespace sockpush
