// Test helpers for real processes, files and namespaces. Every wait is
// bounded; only processes the test started are signalled, by PID.
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/files.hpp"

namespace test {

/// A child process started by the test; killed with SIGKILL if still running
/// when the object goes away.
class child {
 public:
  /// Starts argv[0] with the given arguments; stdout goes to `stdout_file`
  /// (or is inherited when empty), stderr to `stderr_file` likewise.
  child(std::vector<std::string> argv, const std::string& stdout_file = {},
        const std::string& stderr_file = {});
  ~child();
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  /// Waits up to `limit` for the exit; returns the exit code, 128+signal,
  /// or -1 on timeout.
  int wait(std::chrono::milliseconds limit);
  bool running();
  /// user+system CPU time consumed so far, from /proc/PID/stat.
  std::chrono::milliseconds cpu_time() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

/// The daemon's command line as the system tests start it; empty fields
/// are left out (the config file or the built-in default applies).
struct daemon_options {
  std::string config = {};    ///< -c FILE
  std::string carbon = {};    ///< --carbon HOST:PORT[,...] or -
  std::string interval = {};  ///< --interval SECONDS
  std::string prefix = {};    ///< --prefix TEMPLATE
  bool once = false;          ///< --once
};
std::vector<std::string> daemon_command(const daemon_options& options);
/// A [collectors] section whose rounds all have the same number of lines,
/// whatever other tests do meanwhile: no per-destination or per-port lines,
/// no listen queues (listeners come and go).
inline const std::string fixed_size_rounds =
    "[collectors]\nephemeral_top = 0\nconntrack_top_ports = 0\ntcp_listen_queues = false\n";
/// "127.0.0.1:PORT".
std::string loopback(unsigned port);
/// argv as one line for sh -c, each word quoted.
std::string shell_line(const std::vector<std::string>& argv);

/// Runs a shell command, returns its stdout (tests use it for ss, whisper-fetch).
std::string run_capture(const std::string& command, int* exit_code = nullptr);
/// Lines a command prints (`ss -H ...`); fails the test if the command fails,
/// so a missing tool is never read as zero.
std::size_t lines_printed_by(const std::string& command);

void sleep_ms(int ms);

/// Polls `done` every 20 ms until it holds or `limit` passes.
template <typename Predicate>
bool wait_until(Predicate done, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return done();
    sleep_ms(20);
  }
  return true;
}

/// Moves this process into a new network namespace with lo up (root, or an
/// unprivileged user namespace). Returns an empty string or the reason.
std::string enter_private_network_namespace();

/// In the test's own network namespace: drops every packet to TCP `port`,
/// as when a host loses power (no FIN, no RST), until the object goes away.
class packet_blackhole {
 public:
  explicit packet_blackhole(unsigned port);
  ~packet_blackhole();
  packet_blackhole(const packet_blackhole&) = delete;
  packet_blackhole& operator=(const packet_blackhole&) = delete;
  /// Lets packets through again (also done at destruction).
  void lift();

 private:
  bool active_ = false;
};

/// Fails the test with strerror(errno) when a socket call returned < 0.
int must(int rc, const char* what);

/// An IPv4 socket address.
sockaddr_in ipv4(const char* address, std::uint16_t port);

/// A loopback TCP port that was free a moment ago.
unsigned unused_port();

/// Values of one metric (matched by path suffix) in arrival order, with
/// their timestamps, from Graphite plaintext.
struct series {
  std::vector<long long> values, timestamps;
};
series metric(const std::string& data, const std::string& suffix);

/// A line sink process (tests/support/line_sink.cpp) recording into a file.
class line_sink {
 public:
  /// Port 0 picks a free port. `never_read`: accept and never read (a
  /// stalled carbon).
  line_sink(const std::string& data_file, unsigned port = 0, bool never_read = false,
            const std::string& address = "127.0.0.1");
  unsigned port() const { return port_; }
  void kill();
  std::string data() const { return read_file(data_file_); }
  std::size_t connections() const;

 private:
  std::string data_file_;
  unsigned port_ = 0;
  std::unique_ptr<child> process_;
};

}  // namespace test
