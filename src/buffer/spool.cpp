#include "sockpush/buffer/spool.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/crc.hpp>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/common/small_file.hpp"

namespace sockpush {
namespace {

constexpr std::string_view magic = "sockpush-spool 1 ";

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::uint32_t crc32(std::string_view data) {
  boost::crc_32_type crc;
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

spool::spool(std::string directory) : directory_(std::move(directory)) {
  if (enabled()) path_ = directory_ + "/spool";
}

std::string spool::save(std::string_view lines) const {
  const std::string temporary = path_ + ".new";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fmt::format("cannot create {}: {}", temporary, std::strerror(errno));
  auto header = fmt::format("{}{} {:08x}\n", magic, lines.size(), crc32(lines));
  bool ok = write_all(fd, header) && write_all(fd, lines) && ::fsync(fd) == 0;
  int saved_errno = errno;
  ::close(fd);
  if (!ok || ::rename(temporary.c_str(), path_.c_str()) != 0) {
    if (ok) saved_errno = errno;
    ::unlink(temporary.c_str());
    return fmt::format("cannot write {}: {}", path_, std::strerror(saved_errno));
  }
  // The rename itself must reach the disk too.
  int dir = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

std::string spool::take() const {
  if (!enabled()) return {};
  auto text = read_small_file(path_.c_str());
  if (!text) return {};
  auto corrupt = [&](std::string_view why) {
    spdlog::error("spool {} is corrupt ({}); kept as {}.corrupt, not loaded", path_, why, path_);
    std::rename(path_.c_str(), (path_ + ".corrupt").c_str());
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
  ::unlink(path_.c_str());
  spdlog::info("loaded {} lines from the spool {}", count_lines(lines), path_);
  return lines;
}

}  // namespace sockpush
