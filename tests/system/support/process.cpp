#include "support/process.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace test {

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

child::child(std::vector<std::string> argv, const std::string& stdout_file,
             const std::string& stderr_file) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t parent = ::getpid();
  // Signals stay blocked across fork() until the child has dropped the test
  // runner's handlers: a SIGTERM sent before exec must not run doctest's
  // crash handler in a copy of the test process.
  sigset_t all, previous;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, &previous);
  pid_ = ::fork();
  if (pid_ != 0) ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  if (pid_ < 0)
    throw std::runtime_error("cannot fork for " + argv[0] + ": " + std::strerror(errno));
  if (pid_ == 0) {
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
    // A test that aborts (a sanitizer report, a failed REQUIRE in a helper)
    // must not leave its children behind: ctest would wait on their output
    // pipe until its timeout.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    auto redirect = [](int target, const std::string& file) {
      if (file.empty()) return;
      int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || ::dup2(fd, target) < 0) ::_exit(127);
      ::close(fd);
    };
    redirect(1, stdout_file);
    redirect(2, stderr_file);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
}

child::~child() {
  if (running()) {
    signal(SIGKILL);
    wait(std::chrono::milliseconds(5000));
  }
}

void child::signal(int sig) {
  if (status_ < 0 && pid_ > 0) ::kill(pid_, sig);
}

bool child::running() {
  if (status_ >= 0 || pid_ <= 0) return false;
  int st = 0;
  if (waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

int child::wait(std::chrono::milliseconds limit) {
  wait_until([&] { return !running(); }, limit);
  if (status_ < 0) return -1;
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  return 128 + WTERMSIG(status_);
}

std::chrono::milliseconds child::cpu_time() const {
  std::string stat = read_file("/proc/" + std::to_string(pid_) + "/stat");
  // Fields after the command name (which may hold spaces) start after ')'.
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return std::chrono::milliseconds((utime + stime) * 1000 / sysconf(_SC_CLK_TCK));
}

std::size_t lines_printed_by(const std::string& command) {
  int code = -1;
  auto out = run_capture(command + " 2>&1", &code);
  REQUIRE_MESSAGE(code == 0, command << " failed (exit status " << code << "): " << out);
  return split_lines(out).size();
}

std::vector<std::string> daemon_command(const daemon_options& options) {
  std::vector<std::string> argv{SOCKPUSH_BINARY};
  auto add = [&argv](const char* flag, const std::string& value) {
    if (value.empty()) return;
    argv.push_back(flag);
    argv.push_back(value);
  };
  add("-c", options.config);
  add("--carbon", options.carbon);
  add("--interval", options.interval);
  add("--prefix", options.prefix);
  if (options.once) argv.push_back("--once");
  return argv;
}

std::string loopback(unsigned port) {
  return "127.0.0.1:" + std::to_string(port);
}

std::string shell_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& word : argv) {
    std::string quoted = "'";
    for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += (line.empty() ? "" : " ") + quoted + "'";
  }
  return line;
}

std::string run_capture(const std::string& command, int* exit_code) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + command);
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  int status = pclose(pipe);
  if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string enter_private_network_namespace() {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  if (unshare(CLONE_NEWNET) != 0) {
    // Not root: an unprivileged user namespace gives the same isolation.
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
      return std::string("unshare(CLONE_NEWNET) failed: ") + std::strerror(errno) +
             " (run the tests as root, or allow unprivileged user namespaces)";
    write_file("/proc/self/setgroups", "deny");
    write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1");
    write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strcpy(ifr.ifr_name, "lo");
  ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
  int rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
  close(fd);
  if (rc != 0) return std::string("cannot bring lo up: ") + std::strerror(errno);
  // The tests send only to 127.0.0.1: it must go out on this namespace's lo.
  int code = 0;
  const auto route = run_capture("ip route get 127.0.0.1 2>&1", &code);
  if (code != 0 || route.find("dev lo") == std::string::npos)
    return "127.0.0.1 does not route via lo in the test's namespace: " + route;
  return {};
}

line_sink::line_sink(const std::string& data_file, unsigned port, bool never_read,
                     const std::string& address)
    : data_file_(data_file) {
  const std::string port_file = data_file + ".port";
  std::remove(port_file.c_str());
  std::vector<std::string> argv{SOCKPUSH_LINE_SINK, std::to_string(port), data_file};
  if (never_read) argv.push_back("--never-read");
  argv.push_back("--address=" + address);
  process_ = std::make_unique<child>(argv, port_file);
  if (!wait_until([&] { return read_file(port_file).find('\n') != std::string::npos; },
                  std::chrono::milliseconds(5000)))
    throw std::runtime_error("line sink did not start");
  port_ = static_cast<unsigned>(std::stoul(read_file(port_file)));
}

void line_sink::kill() {
  process_->signal(SIGKILL);
  process_->wait(std::chrono::milliseconds(5000));
}

std::size_t line_sink::connections() const {
  return split_lines(read_file(data_file_ + ".conns")).size();
}

packet_blackhole::packet_blackhole(unsigned port) {
  int code = 0;
  auto out = run_capture(
      "nft -f - 2>&1 <<'EOF'\ntable inet blackhole {\n"
      "  chain out { type filter hook output priority 0; tcp dport " +
          std::to_string(port) + " drop; }\n}\nEOF",
      &code);
  REQUIRE_MESSAGE(code == 0, "nft could not drop packets: " << out);
  active_ = true;
}

packet_blackhole::~packet_blackhole() {
  if (active_) run_capture("nft delete table inet blackhole");
}

void packet_blackhole::lift() {
  int code = 0;
  run_capture("nft delete table inet blackhole", &code);
  REQUIRE(code == 0);
  active_ = false;
}

int must(int rc, const char* what) {
  if (rc < 0) FAIL(what << ": " << std::strerror(errno));
  return rc;
}

sockaddr_in ipv4(const char* address, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, address, &a.sin_addr);
  return a;
}

unsigned unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

series metric(const std::string& data, const std::string& suffix) {
  series s;
  for (const auto& line : split_lines(data)) {
    auto a = line.find(' ');
    auto b = line.rfind(' ');
    if (a == std::string::npos || a == b) continue;
    auto path = line.substr(0, a);
    if (path.size() < suffix.size() ||
        path.compare(path.size() - suffix.size(), std::string::npos, suffix) != 0)
      continue;
    s.values.push_back(std::stoll(line.substr(a + 1, b - a - 1)));
    s.timestamps.push_back(std::stoll(line.substr(b + 1)));
  }
  return s;
}

}  // namespace test
