#include "sockpush/collect/udp_collector.hpp"

#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sockpush {

udp_collector::udp_collector(bool force_proc) : use_proc_(force_proc || !netlink_.available()) {}

std::uint64_t udp_collector::count() {
  std::uint64_t sockets = 0;
  socket_visitor visitor = [&sockets](const socket_record&) { ++sockets; };
  if (!use_proc_) {
    // Without the udp_diag module the kernel answers "unsupported" even for
    // IPv4, which would read as zero sockets: /proc is right then.
    bool ok = netlink_.dump(AF_INET, IPPROTO_UDP, all_socket_states, visitor);
    if (ok && netlink_.last_unsupported()) {
      spdlog::info("no udp_diag in this kernel; counting UDP sockets from /proc/net/udp");
    } else if (ok && netlink_.dump(AF_INET6, IPPROTO_UDP, all_socket_states, visitor)) {
      return sockets;
    } else {
      spdlog::info("sock_diag UDP dump failed ({}); counting from /proc/net/udp",
                   std::strerror(errno));
    }
    use_proc_ = true;
    sockets = 0;
  }
  read_proc_net("/proc/net/udp", AF_INET, visitor);
  read_proc_net("/proc/net/udp6", AF_INET6, visitor);
  return sockets;
}

void udp_collector::collect(round_lines& out) {
  out.add("udp.sockets", count());
}

}  // namespace sockpush
