#include "sockpush/app/service_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

namespace sockpush {
namespace {

std::optional<unsigned long long> env_number(const char* name) {
  const char* text = std::getenv(name);
  if (!text) return std::nullopt;
  unsigned long long value = 0;
  auto [end, ec] = std::from_chars(text, text + std::strlen(text), value);
  if (ec != std::errc{} || *end != '\0') return std::nullopt;
  return value;
}

}  // namespace

service_notifier::service_notifier() {
  const char* socket_path = std::getenv("NOTIFY_SOCKET");
  if (!socket_path || (socket_path[0] != '/' && socket_path[0] != '@') ||
      std::strlen(socket_path) >= sizeof(sockaddr_un::sun_path))
    return;
  address_ = socket_path;
  if (address_[0] == '@') address_[0] = '\0';  // abstract namespace
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  // WATCHDOG_PID names the process the watchdog is meant for (not a child).
  auto pid = env_number("WATCHDOG_PID");
  auto usec = env_number("WATCHDOG_USEC");
  if (usec && *usec > 0 && (!pid || *pid == static_cast<unsigned long long>(::getpid())))
    watchdog_interval_ = std::chrono::milliseconds(std::max<unsigned long long>(1, *usec / 2000));
}

service_notifier::~service_notifier() {
  if (fd_ >= 0) ::close(fd_);
}

void service_notifier::send(const std::string& message) {
  if (fd_ < 0) return;
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::memcpy(to.sun_path, address_.data(), address_.size());
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
  ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&to),
           length);
}

}  // namespace sockpush
