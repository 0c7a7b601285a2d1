#include "sockpush/intake/listen_address.hpp"

#include <fmt/format.h>

#include <charconv>

#include "sockpush/common/config_error.hpp"

namespace sockpush {
namespace {

[[noreturn]] void fail(std::string_view text, std::string_view why) {
  throw config_error(fmt::format("listen address '{}': {}", text, why));
}

}  // namespace

listen_address parse_listen_address(std::string_view text) {
  listen_address a;
  a.text = std::string(text);
  auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos)
    fail(text, "expected tcp://HOST:PORT, udp://HOST:PORT or unix:///PATH");
  auto scheme = text.substr(0, scheme_end);
  auto rest = text.substr(scheme_end + 3);
  if (scheme == "unix") {
    a.kind = listen_address::transport::unix_stream;
    if (rest.empty() || rest.front() != '/') fail(text, "a unix socket path must be absolute");
    if (rest.size() >= 108) fail(text, "a unix socket path must be shorter than 108 bytes");
    a.path = std::string(rest);
    return a;
  }
  if (scheme == "tcp") {
    a.kind = listen_address::transport::tcp;
  } else if (scheme == "udp") {
    a.kind = listen_address::transport::udp;
  } else {
    fail(text, fmt::format("unknown scheme '{}' (tcp, udp or unix)", scheme));
  }
  std::string_view host, port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      fail(text, "expected [IPv6]:PORT");
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) fail(text, "missing :PORT");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  unsigned number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec != std::errc{} || end != port.data() + port.size() || number < 1 || number > 65535)
    fail(text, "port must be a number from 1 to 65535");
  a.port = static_cast<std::uint16_t>(number);
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code bad;
  a.ip = boost::asio::ip::make_address(std::string(host), bad);
  if (bad) fail(text, "the host must be an IP address or localhost");
  return a;
}

listen_address check_listen_address(std::string_view text, bool allow_remote) {
  auto a = parse_listen_address(text);
  if (a.kind != listen_address::transport::unix_stream && !a.ip.is_loopback() && !allow_remote)
    fail(text, "not a loopback address; set allow_remote = true to take lines from the network");
  return a;
}

}  // namespace sockpush
