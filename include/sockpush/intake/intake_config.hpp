// What a user can set for the line sources ([[listen]], [[exec]]).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace sockpush {

using std::chrono::milliseconds;

/// A local listener for lines from scripts ([[listen]]).
struct listen_config {
  /// "tcp://127.0.0.1:2003", "udp://[::1]:2003" or "unix:///run/sockpush.sock".
  std::string address;
  /// TCP/unix clients served at once; more are accepted and closed at once.
  std::size_t max_clients = 64;
  /// A client that sends nothing for this long is disconnected.
  milliseconds idle_timeout{60000};
  /// Binding to anything but loopback must be asked for explicitly.
  bool allow_remote = false;
  bool operator==(const listen_config&) const = default;
};

/// A program run on a schedule whose stdout lines are forwarded ([[exec]]).
struct exec_config {
  /// Names the job in logs and self-metrics; default: the program's file name.
  std::string name;
  /// argv; no shell unless the user writes ["sh", "-c", "..."].
  std::vector<std::string> command;
  /// Zero means the [collect] interval.
  milliseconds interval{0};
  /// A run longer than this is killed; zero means the job's interval.
  milliseconds timeout{0};
  /// Prepend the [collect] prefix to the job's (relative) metric names.
  bool prefix = false;
  bool operator==(const exec_config&) const = default;
};

}  // namespace sockpush
