// Benchmark helper: fills the current network namespace with TCP sockets
// over several destinations, like a busy host: TIME_WAIT ones (the client
// closes first), ESTABLISHED pairs held open, and the listeners. Prints
// "ready" once done and keeps the open ones until stdin closes.
// Usage: fill_sockets TIME_WAIT_COUNT ESTABLISHED_PAIRS DESTINATIONS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int must(int rc, const char* what) {
  if (rc < 0) {
    std::perror(what);
    std::exit(1);
  }
  return rc;
}

sockaddr_in address(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: fill_sockets TIME_WAIT_COUNT ESTABLISHED_PAIRS DESTINATIONS\n");
    return 2;
  }
  const int time_wait = std::atoi(argv[1]);
  const int pairs = std::atoi(argv[2]);
  const int destinations = std::max(1, std::atoi(argv[3]));
  std::vector<int> listeners;
  std::vector<sockaddr_in> servers;
  for (int d = 0; d < destinations; ++d) {
    auto server = address("127.0.0." + std::to_string(d + 1), 2003 + d);
    int fd = must(socket(AF_INET, SOCK_STREAM, 0), "socket");
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    must(bind(fd, reinterpret_cast<sockaddr*>(&server), sizeof server), "bind listener");
    must(listen(fd, 4096), "listen");
    listeners.push_back(fd);
    servers.push_back(server);
  }
  // TIME_WAIT: each client binds its own 127.1.x.y source and a fixed port,
  // so the kernel does no ephemeral-port search (fast: ~27k/s).
  constexpr int batch = 500;
  for (int done = 0; done < time_wait;) {
    int n = std::min(batch, time_wait - done);
    std::vector<int> clients, accepted;
    for (int i = 0; i < n; ++i) {
      int k = done + i;
      int d = k % destinations;
      auto source =
          address("127.1." + std::to_string(k / 250 % 250) + "." + std::to_string(k % 250 + 1),
                  20000 + k / 62500);
      int c = must(socket(AF_INET, SOCK_STREAM, 0), "socket");
      must(bind(c, reinterpret_cast<sockaddr*>(&source), sizeof source), "bind client");
      must(connect(c, reinterpret_cast<sockaddr*>(&servers[static_cast<std::size_t>(d)]),
                   sizeof(sockaddr_in)),
           "connect");
      clients.push_back(c);
    }
    for (int i = 0; i < n; ++i) {
      int d = (done + i) % destinations;
      accepted.push_back(
          must(accept(listeners[static_cast<std::size_t>(d)], nullptr, nullptr), "accept"));
    }
    for (int c : clients) close(c);
    for (int a : accepted) close(a);
    done += n;
  }
  // ESTABLISHED pairs from ephemeral ports, held open. A process may hold
  // only RLIMIT_NOFILE descriptors (and may not raise the hard limit in a
  // container), so the pairs are shared among as many processes as needed;
  // each holds its own until stdin closes.
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  const int per_process = std::max<int>(1, static_cast<int>(files.rlim_cur) / 2 - 64);
  std::vector<pid_t> holders;
  for (int first = 0; first < pairs; first += per_process) {
    const int last = std::min(pairs, first + per_process);
    std::fflush(stdout);
    pid_t pid = must(fork(), "fork");
    if (pid > 0) {
      holders.push_back(pid);
      continue;
    }
    std::vector<int> open;
    for (int i = first; i < last; ++i) {
      int d = i % destinations;
      int c = must(socket(AF_INET, SOCK_STREAM, 0), "socket");
      must(connect(c, reinterpret_cast<sockaddr*>(&servers[static_cast<std::size_t>(d)]),
                   sizeof(sockaddr_in)),
           "connect");
      open.push_back(c);
      open.push_back(
          must(accept(listeners[static_cast<std::size_t>(d)], nullptr, nullptr), "accept"));
    }
    kill(getpid(), SIGSTOP);  // tells the parent this share is open
    char c;
    while (read(0, &c, 1) > 0) {
    }
    _exit(0);
  }
  for (pid_t pid : holders) {
    int status = 0;
    must(waitpid(pid, &status, WUNTRACED), "waitpid");
    if (!WIFSTOPPED(status)) {
      std::fprintf(stderr, "fill_sockets: a holder of ESTABLISHED pairs failed\n");
      return 1;
    }
    kill(pid, SIGCONT);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  for (pid_t pid : holders) waitpid(pid, nullptr, 0);
  return 0;
}
