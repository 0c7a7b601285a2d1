#include "sockpush/buffer/spool.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>

#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/buffer/queue_record.hpp"
#include "sockpush/common/small_file.hpp"

namespace sockpush {
namespace {

constexpr std::string_view magic = "sockpush-spool 1 ";

}  // namespace

std::string take_old_spool(const std::string& directory) {
  if (directory.empty()) return {};
  const auto path = directory + "/spool";
  auto text = read_small_file(path.c_str());
  if (!text) return {};
  auto corrupt = [&](std::string_view why) {
    spdlog::error("spool {} is corrupt ({}); kept as {}.corrupt, not loaded", path, why, path);
    std::rename(path.c_str(), (path + ".corrupt").c_str());
    return std::string{};
  };
  std::string_view all(*text);
  auto nl = all.find('\n');
  if (nl == std::string_view::npos || all.substr(0, magic.size()) != magic)
    return corrupt("no spool header");
  auto header = all.substr(magic.size(), nl - magic.size());
  auto space = header.find(' ');
  std::size_t length = 0;
  std::uint32_t checksum = 0;
  if (space == std::string_view::npos ||
      std::from_chars(header.data(), header.data() + space, length).ec != std::errc{} ||
      std::from_chars(header.data() + space + 1, header.data() + header.size(), checksum, 16).ec !=
          std::errc{})
    return corrupt("bad header");
  auto payload = all.substr(nl + 1);
  if (payload.size() != length)
    return corrupt(fmt::format("{} bytes instead of {}: truncated", payload.size(), length));
  if (crc32(payload) != checksum) return corrupt("checksum mismatch");
  if (!payload.empty() && payload.back() != '\n') return corrupt("does not end with a whole line");
  std::string lines(payload);
  ::unlink(path.c_str());
  spdlog::info("loaded {} lines from the spool {} of an earlier version", count_lines(lines), path);
  return lines;
}

}  // namespace sockpush
