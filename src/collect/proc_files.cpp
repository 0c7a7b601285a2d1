#include "sockpush/collect/proc_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace sockpush {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n'))
    text.remove_suffix(1);
  return text;
}

template <typename Int>
bool parse_int(std::string_view text, Int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

bool read_complete_lines(const char* path, const std::function<void(std::string_view)>& lines) {
  constexpr std::size_t chunk_bytes = 64 * 1024;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string carry;
  std::string chunk(chunk_bytes, '\0');
  for (;;) {
    auto got = ::read(fd, chunk.data(), chunk.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    carry.append(chunk.data(), static_cast<std::size_t>(got));
    auto last = carry.rfind('\n');
    if (last == std::string::npos) continue;
    lines(std::string_view(carry).substr(0, last + 1));
    carry.erase(0, last + 1);
  }
  if (!carry.empty()) lines(carry);
  ::close(fd);
  return true;
}

std::size_t split_words(std::string_view line, std::span<std::string_view> out) {
  std::size_t count = 0, i = 0;
  while (count < out.size() && i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    auto start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) out[count++] = line.substr(start, i - start);
  }
  return count;
}

std::optional<std::int64_t> read_integer_file(const char* path) {
  auto text = read_small_file(path);
  if (!text) return std::nullopt;
  auto value = trim(*text);
  value = value.substr(0, value.find_first_of(" \t"));
  std::int64_t n = 0;
  if (!parse_int(value, n)) return std::nullopt;
  return n;
}

std::optional<port_range> parse_port_range(std::string_view text) {
  text = trim(text);
  auto gap = text.find_first_of(" \t");
  if (gap == std::string_view::npos) return std::nullopt;
  port_range r;
  if (!parse_int(text.substr(0, gap), r.low) || !parse_int(trim(text.substr(gap)), r.high) ||
      r.low > r.high)
    return std::nullopt;
  return r;
}

std::vector<port_range> parse_port_list(std::string_view text) {
  std::vector<port_range> ranges;
  text = trim(text);
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    auto dash = item.find('-');
    port_range r;
    bool ok = dash == std::string_view::npos ? parse_int(item, r.low) && (r.high = r.low, true)
                                             : parse_int(item.substr(0, dash), r.low) &&
                                                   parse_int(item.substr(dash + 1), r.high);
    if (ok && r.low <= r.high) ranges.push_back(r);
  }
  return ranges;
}

bool ephemeral_ports::usable(std::uint16_t port) const {
  if (!range.contains(port)) return false;
  return std::none_of(reserved.begin(), reserved.end(),
                      [port](const port_range& r) { return r.contains(port); });
}

std::uint32_t ephemeral_ports::size() const {
  std::uint32_t n = static_cast<std::uint32_t>(range.high - range.low) + 1;
  for (const auto& r : reserved) {
    auto low = std::max(r.low, range.low);
    auto high = std::min(r.high, range.high);
    if (low <= high) n -= static_cast<std::uint32_t>(high - low) + 1;
  }
  return n;
}

std::optional<ephemeral_ports> read_ephemeral_ports() {
  auto range_text = read_small_file("/proc/sys/net/ipv4/ip_local_port_range");
  if (!range_text) return std::nullopt;
  auto range = parse_port_range(*range_text);
  if (!range) return std::nullopt;
  ephemeral_ports ports{*range, {}};
  if (auto reserved = read_small_file("/proc/sys/net/ipv4/ip_local_reserved_ports"))
    ports.reserved = parse_port_list(*reserved);
  return ports;
}

}  // namespace sockpush
