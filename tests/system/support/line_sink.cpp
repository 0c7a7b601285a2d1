// A stand-in for carbon's line receiver in tests: accepts TCP connections on
// 127.0.0.1:PORT, appends everything it receives to DATA_FILE and one line per
// accepted connection to DATA_FILE.conns. It is a separate process so tests
// can kill it with real signals and start it again on the same port.
//
//   sockpush_line_sink PORT DATA_FILE [--never-read] [--address=A]
//     PORT 0 picks one; the port is printed on stdout once listening.
//     --address: an IPv4 loopback address other than 127.0.0.1.
//     --never-read: accept, then never read (a stalled carbon, zero window),
//     with a small receive buffer so that happens quickly.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s PORT DATA_FILE [--never-read] [--address=A]\n", argv[0]);
    return 2;
  }
  bool never_read = false;
  std::string address = "127.0.0.1";
  for (int i = 3; i < argc; ++i) {
    const std::string option = argv[i];
    if (option == "--never-read")
      never_read = true;
    else if (option.rfind("--address=", 0) == 0)
      address = option.substr(10);
  }
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (never_read) {
    int small = 4096;  // accepted sockets inherit it
    setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
  if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1 ||
      (ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
    std::fprintf(stderr, "not an IPv4 loopback address: %s\n", address.c_str());
    return 2;
  }
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 128) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  int data = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int conns = open((std::string(argv[2]) + ".conns").c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (data < 0 || conns < 0) {
    std::perror("open");
    return 1;
  }
  std::printf("%u\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  std::vector<pollfd> fds{{listener, POLLIN, 0}};
  std::vector<char> buf(1 << 16);
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    for (std::size_t i = fds.size(); i-- > 0;) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == listener) {
        int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          // Never reading: keep the socket open, but do not poll it.
          fds.push_back({c, static_cast<short>(never_read ? 0 : POLLIN), 0});
          if (write(conns, "accept\n", 7) != 7) return 1;
        }
        continue;
      }
      auto got = read(fds[i].fd, buf.data(), buf.size());
      if (got > 0) {
        if (write(data, buf.data(), static_cast<size_t>(got)) != got) return 1;
      } else {
        close(fds[i].fd);
        fds.erase(fds.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
  }
}
