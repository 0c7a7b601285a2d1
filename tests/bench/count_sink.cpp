// Benchmark sink: accepts any number of loopback connections and counts the
// bytes and lines it receives, as fast as read() allows. Writes its port to
// PORT_FILE once listening, and exits once EXPECTED lines have arrived or
// nothing arrived for IDLE seconds, printing
//   lines bytes connections first_byte_ns last_byte_ns   (CLOCK_REALTIME)
// With COPY_FILE, everything received is also written there.
// Usage: count_sink PORT_FILE EXPECTED IDLE [COPY_FILE]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace {

long long realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: count_sink PORT_FILE EXPECTED IDLE_SECONDS [COPY_FILE]\n");
    return 2;
  }
  FILE* copy = argc == 5 ? std::fopen(argv[4], "w") : nullptr;
  if (argc == 5 && !copy) {
    std::perror(argv[4]);
    return 1;
  }
  const long long expected = std::atoll(argv[2]);
  const int idle_ms = std::atoi(argv[3]) * 1000;
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener, 64) != 0) {
    std::perror("count_sink: bind/listen");
    return 1;
  }
  socklen_t len = sizeof a;
  getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  if (FILE* f = std::fopen(argv[1], "w")) {
    std::fprintf(f, "%u\n", ntohs(a.sin_port));
    std::fclose(f);
  }
  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);

  std::vector<char> buf(1 << 20);
  long long lines = 0, bytes = 0, connections = 0, first = 0, last = 0;
  epoll_event events[64];
  while (lines < expected) {
    int n = epoll_wait(ep, events, 64, idle_ms);
    if (n <= 0) break;  // idle: the sender is done or stuck
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int c = accept(listener, nullptr, nullptr);
        if (c < 0) continue;
        ++connections;
        epoll_event cev{};
        cev.events = EPOLLIN;
        cev.data.fd = c;
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        continue;
      }
      auto got = read(fd, buf.data(), buf.size());
      if (got <= 0) {
        close(fd);
        continue;
      }
      last = realtime_ns();
      if (first == 0) first = last;
      bytes += got;
      lines += std::count(buf.data(), buf.data() + got, '\n');
      if (copy) std::fwrite(buf.data(), 1, static_cast<std::size_t>(got), copy);
    }
  }
  if (copy) std::fclose(copy);
  std::printf("%lld %lld %lld %lld %lld\n", lines, bytes, connections, first, last);
  return 0;
}
