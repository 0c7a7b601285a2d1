#include "sockpush/carbon/destination.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
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
  in6_addr ignored{};
  if (result.host.find(':') != std::string::npos &&
      inet_pton(AF_INET6, result.host.c_str(), &ignored) != 1)
    return fail(why, "'" + result.host + "' is not an IPv6 address (write [v6]:port)");
  if (port.empty() && text.back() == ':') return fail(why, "empty port after ':'");
  result.port = port.empty() ? std::string(default_carbon_port) : std::string(port);
  if (!valid_port(result.port)) return fail(why, "port must be a number from 1 to 65535");
  return result;
}

std::string carbon_destination::to_string() const {
  return instance.empty() ? where.to_string() : where.to_string() + ":" + instance;
}

std::string carbon_destination::metric_name() const {
  std::string name = where.host + "_" + where.port + (instance.empty() ? "" : "_" + instance);
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return name;
}

std::optional<carbon_destination> parse_carbon_destination(std::string_view text,
                                                           std::string* why) {
  carbon_destination result;
  // "host:port:instance" has exactly two colons with a port between them; an
  // IPv6 literal with two colons has them side by side ("::1", "fe80::1").
  std::string_view address = text;
  if (auto equals = text.rfind('='); equals != std::string_view::npos) {
    // carbon-c-relay's "host[:port]=instance"
    address = text.substr(0, equals);
    result.instance = std::string(text.substr(equals + 1));
  } else if (text.empty() || text.front() == '[') {
    auto close = text.find(']');
    auto instance_colon = close == std::string_view::npos ? close : text.find(':', close + 2);
    if (instance_colon != std::string_view::npos) {
      address = text.substr(0, instance_colon);
      result.instance = std::string(text.substr(instance_colon + 1));
    }
  } else if (std::count(text.begin(), text.end(), ':') == 2) {
    auto first = text.find(':');
    auto second = text.rfind(':');
    if (second > first + 1 && valid_port(text.substr(first + 1, second - first - 1))) {
      address = text.substr(0, second);
      result.instance = std::string(text.substr(second + 1));
    }
  }
  auto where = parse_host_port(address, why);
  if (!where) return std::nullopt;
  result.where = std::move(*where);
  if (address.size() < text.size() && result.instance.empty()) {
    if (why) *why = "empty instance name after the address";
    return std::nullopt;
  }
  auto plain = [](std::string_view s, bool colons) {
    return std::all_of(s.begin(), s.end(), [colons](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
             (colons && c == ':');
    });
  };
  if (!plain(result.where.host, true) || !plain(result.instance, false)) {
    if (why) *why = "host and instance may only hold letters, digits and . - _";
    return std::nullopt;
  }
  return result;
}

}  // namespace sockpush
