// Small readers for the kernel's text files under /proc: single values,
// "name value" tables and the ephemeral port settings. A missing file is an
// empty optional (the feature is not in this kernel), never an exception.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sockpush/common/small_file.hpp"

namespace sockpush {

/// Reads a (possibly huge) /proc table in 64 KiB reads, one read() per
/// chunk (the kernel restarts its table walk on every read), and hands over
/// runs of complete lines. False if the file cannot be opened (errno set).
bool read_complete_lines(const char* path, const std::function<void(std::string_view)>& lines);

/// Splits `line` at spaces into at most out.size() words; returns how many.
std::size_t split_words(std::string_view line, std::span<std::string_view> out);

/// First integer in the file (e.g. /proc/sys/net/ipv4/tcp_fin_timeout).
std::optional<std::int64_t> read_integer_file(const char* path);

/// Inclusive port range.
struct port_range {
  std::uint16_t low = 0;
  std::uint16_t high = 0;
  bool contains(std::uint16_t port) const { return port >= low && port <= high; }
};

/// "32768\t60999" from ip_local_port_range.
std::optional<port_range> parse_port_range(std::string_view text);

/// "8080,9000-9100" from ip_local_reserved_ports (empty text: none).
std::vector<port_range> parse_port_list(std::string_view text);

/// The ephemeral ports connect() may pick: ip_local_port_range minus
/// ip_local_reserved_ports.
struct ephemeral_ports {
  port_range range;
  std::vector<port_range> reserved;
  bool usable(std::uint16_t port) const;
  /// Number of usable ports.
  std::uint32_t size() const;
};
std::optional<ephemeral_ports> read_ephemeral_ports();

}  // namespace sockpush
