// What tcp_remote_subnets adds to a collection round, measured inside one
// process: the TCP collector without subnets (A) and with the subnets given
// on the command line (B) take turns, ABBA, on the same sockets, each round
// timed by the thread's CPU clock (user and kernel: the sock_diag walk
// included). Daemons run side by side start their rounds at the same instant
// and contend for the kernel's table, which moves their costs by ±15 %;
// taking turns in one thread leaves only the difference.
// Usage: collect_round ROUNDS NAME=CIDR[,CIDR...] ...
// Prints: rounds, median ms without, median ms with, ratio, TIME_WAIT seen.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sockpush/collect/round_lines.hpp"
#include "sockpush/collect/tcp_state_collector.hpp"

namespace {

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const auto middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s ROUNDS NAME=CIDR[,CIDR...] ...\n", argv[0]);
    return 2;
  }
  const int rounds = std::atoi(argv[1]);
  sockpush::tcp_collector_options with;
  for (int i = 2; i < argc; ++i) {
    const std::string entry = argv[i];
    const auto equals = entry.find('=');
    sockpush::remote_subnet subnet{entry.substr(0, equals), {}};
    for (auto rest = entry.substr(equals + 1); !rest.empty();) {
      const auto comma = rest.find(',');
      subnet.prefixes.push_back(rest.substr(0, comma));
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
    with.remote_subnets.push_back(subnet);
  }
  sockpush::tcp_state_collector plain, subnets(with);
  std::vector<double> plain_ms, subnets_ms;
  std::string lines;
  auto time_round = [&lines](sockpush::tcp_state_collector& tcp, std::vector<double>& into) {
    lines.clear();
    sockpush::round_lines out(lines, "bench", 0);
    const double start = thread_cpu_ms();
    tcp.collect(out);
    into.push_back(thread_cpu_ms() - start);
  };
  for (int i = 0; i < rounds; ++i) {
    if (i % 2 == 0) {
      time_round(plain, plain_ms);
      time_round(subnets, subnets_ms);
    } else {
      time_round(subnets, subnets_ms);
      time_round(plain, plain_ms);
    }
  }
  const double without = median(plain_ms), with_subnets = median(subnets_ms);
  std::printf("%d %.3f %.3f %.4f %llu\n", rounds, without, with_subnets, with_subnets / without,
              static_cast<unsigned long long>(subnets.states()[6]));
  return 0;
}
