// Addresses of local listeners as users write them in [[listen]]:
// "tcp://127.0.0.1:2003", "udp://[::1]:2003", "unix:///run/sockpush.sock".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/ip/address.hpp>

namespace sockpush {

struct listen_address {
  enum class transport : std::uint8_t { tcp, udp, unix_stream };
  transport kind = transport::tcp;
  boost::asio::ip::address ip;  ///< tcp and udp
  std::uint16_t port = 0;       ///< tcp and udp
  std::string path;             ///< unix
  std::string text;             ///< as written, for logs and metric names
};

/// Parses a listener address; the host must be a literal IP or "localhost"
/// (a listener binds once, at start, and must not depend on DNS). Throws
/// config_error naming what is wrong.
listen_address parse_listen_address(std::string_view text);

/// parse_listen_address plus the loopback rule: a non-loopback IP needs
/// `allow_remote`, since the lines of anyone who can reach it go to carbon.
listen_address check_listen_address(std::string_view text, bool allow_remote);

}  // namespace sockpush
