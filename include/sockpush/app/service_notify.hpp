// systemd's notification protocol (sd_notify), spoken directly: one unix
// datagram per message to $NOTIFY_SOCKET, no libsystemd. With Type=notify
// the unit is "started" only once the first round is collected, and with
// WatchdogSec= a stalled event loop gets the service restarted. Without
// $NOTIFY_SOCKET (procd, a shell) every call does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace sockpush {

class service_notifier {
 public:
  /// Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment.
  service_notifier();
  ~service_notifier();
  service_notifier(const service_notifier&) = delete;
  service_notifier& operator=(const service_notifier&) = delete;

  bool enabled() const { return fd_ >= 0; }
  /// How often to send WATCHDOG=1 (half the manager's timeout), if asked to.
  std::optional<std::chrono::milliseconds> watchdog_interval() const { return watchdog_interval_; }

  void ready() { send("READY=1"); }
  void reloading() { send("RELOADING=1"); }
  void stopping() { send("STOPPING=1"); }
  void watchdog() { send("WATCHDOG=1"); }

  /// Sends one raw message ("KEY=value\n..."). Failures are ignored: the
  /// service manager going away must not take the daemon with it.
  void send(const std::string& message);

 private:
  int fd_ = -1;
  std::string address_;  ///< sockaddr_un path; a leading '\0' for abstract sockets
  std::optional<std::chrono::milliseconds> watchdog_interval_;
};

}  // namespace sockpush
