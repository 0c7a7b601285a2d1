// One sockpush collection round, measured in-process on the sockets of the
// current network namespace: CPU ms per round (median of PASSES) for
//   states        TCP states only (one dump per family, counting a byte)
//   default       every collector with its defaults (ephemeral pressure on)
//   ports         default plus per-port and listening-port states
// Prints "variant median_ms time_wait" lines. Usage: bench_collect PASSES
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "sockpush/collect/conntrack_collector.hpp"
#include "sockpush/collect/kernel_counters_collector.hpp"
#include "sockpush/collect/settings_collector.hpp"
#include "sockpush/collect/tcp_state_collector.hpp"
#include "sockpush/collect/udp_collector.hpp"

using namespace sockpush;

namespace {

double cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

std::vector<std::unique_ptr<collector>> default_collectors(tcp_collector_options tcp) {
  std::vector<std::unique_ptr<collector>> all;
  all.push_back(std::make_unique<tcp_state_collector>(std::move(tcp)));
  all.push_back(std::make_unique<udp_collector>());
  all.push_back(std::make_unique<sockstat_collector>());
  all.push_back(std::make_unique<netstat_collector>(default_netstat_counters(), false));
  all.push_back(std::make_unique<conntrack_collector>());
  all.push_back(std::make_unique<settings_collector>());
  return all;
}

void measure(const char* variant, std::vector<std::unique_ptr<collector>> collectors, int passes) {
  std::vector<double> ms;
  std::string text;
  for (int i = 0; i < passes; ++i) {
    text.clear();
    round_lines out(text, "bench", 0);
    double t0 = cpu_ms();
    for (auto& c : collectors) c->collect(out);
    ms.push_back(cpu_ms() - t0);
  }
  std::sort(ms.begin(), ms.end());
  auto tw = text.find("bench.tcp.states.time_wait ");
  std::printf("%s %.3f %s\n", variant, ms[ms.size() / 2],
              tw == std::string::npos
                  ? "0"
                  : text.substr(tw + 27, text.find(' ', tw + 27) - tw - 27).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int passes = argc > 1 ? std::atoi(argv[1]) : 30;
  if (passes < 1) passes = 30;
  tcp_collector_options states_only;
  states_only.ephemeral = false;
  std::vector<std::unique_ptr<collector>> states;
  states.push_back(std::make_unique<tcp_state_collector>(states_only));
  measure("states", std::move(states), passes);
  measure("default", default_collectors({}), passes);
  tcp_collector_options ports;
  ports.local_ports = {22, 80, 443, 2003};
  ports.remote_ports = {2003, 2004};
  ports.listening_ports = true;
  measure("ports", default_collectors(ports), passes);
  return 0;
}
