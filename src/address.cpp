#include "sockpush/address.hpp"

#include <charconv>

namespace sockpush {
namespace {

bool valid_port(std::string_view port) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc{} && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

std::optional<host_port> fail(std::string* why, std::string message) {
  if (why) *why = std::move(message);
  return std::nullopt;
}

}  // namespace

std::string host_port::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port;
  return host + ":" + port;
}

std::optional<host_port> parse_host_port(std::string_view text, std::string* why) {
  host_port result;
  std::string_view port;
  if (text.empty()) return fail(why, "empty address");
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return fail(why, "missing ']' after IPv6 address");
    result.host = std::string(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail(why, "expected ':port' after ']'");
      port = rest.substr(1);
    }
  } else if (text.find(':') != text.rfind(':')) {
    result.host = std::string(text);  // bare IPv6 literal, no port
  } else if (auto colon = text.find(':'); colon != std::string_view::npos) {
    result.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  } else {
    result.host = std::string(text);
  }
  if (result.host.empty()) return fail(why, "empty host name");
  if (port.empty() && text.back() == ':') return fail(why, "empty port after ':'");
  result.port = port.empty() ? std::string(default_carbon_port) : std::string(port);
  if (!valid_port(result.port)) return fail(why, "port must be a number from 1 to 65535");
  return result;
}

}  // namespace sockpush
