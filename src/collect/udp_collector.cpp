#include "sockpush/collect/udp_collector.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

namespace sockpush {

udp_collector::udp_collector(bool force_proc) : sockets_(IPPROTO_UDP, force_proc) {}

std::uint64_t udp_collector::count() {
  std::uint64_t sockets = 0;
  sockets_.visit(
      all_socket_states, [&sockets](const socket_record&) { ++sockets; },
      [&sockets] { sockets = 0; });
  return sockets;
}

void udp_collector::collect(round_lines& out) {
  out.add("udp.sockets", count());
}

}  // namespace sockpush
