#include "sockpush/buffer/queue_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

namespace sockpush {

directory_files::directory_files(std::string directory) : directory_(std::move(directory)) {}

directory_files::~directory_files() {
  close_open();
}

void directory_files::close_open() {
  if (open_fd_ >= 0) ::close(open_fd_);
  open_fd_ = -1;
  open_name_.clear();
}

int directory_files::list(std::vector<entry>& out) {
  out.clear();
  DIR* dir = ::opendir(directory_.c_str());
  if (!dir) return errno;
  while (const dirent* d = ::readdir(dir)) {
    struct stat st {};
    if (::fstatat(::dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      out.push_back({d->d_name, static_cast<std::uint64_t>(st.st_size)});
  }
  ::closedir(dir);
  return 0;
}

int directory_files::read_at(const std::string& name, std::uint64_t offset, std::size_t length,
                             std::string& out) {
  out.clear();
  const auto path = directory_ + "/" + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out.resize(length);
  std::size_t got = 0;
  int error = 0;
  while (got < length) {
    auto n = ::pread(fd, out.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error = errno;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return error;
}

int directory_files::open_for_append(const std::string& name, int& fd) {
  if (open_fd_ < 0 || open_name_ != name) {
    close_open();
    const auto path = directory_ + "/" + name;
    open_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (open_fd_ < 0) return errno;
    open_name_ = name;
  }
  fd = open_fd_;
  return 0;
}

int directory_files::append(const std::string& name, std::string_view data) {
  int fd = -1;
  if (int error = open_for_append(name, fd)) return error;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno;
  ssize_t n;
  do n = ::write(fd, data.data(), data.size());
  while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(data.size())) return 0;
  // A short write is a full disk (or a signal): a torn record must not stay
  // in front of the next one.
  const int error = n < 0 ? errno : ENOSPC;
  if (::ftruncate(fd, st.st_size) != 0) close_open();
  return error;
}

int directory_files::sync(const std::string& name) {
  if (open_fd_ >= 0 && open_name_ == name) return ::fdatasync(open_fd_) == 0 ? 0 : errno;
  const auto path = directory_ + "/" + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int error = ::fdatasync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

int directory_files::remove(const std::string& name) {
  if (open_name_ == name) close_open();
  const auto path = directory_ + "/" + name;
  return ::unlink(path.c_str()) == 0 || errno == ENOENT ? 0 : errno;
}

int directory_files::sync_directory() {
  int fd = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int error = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

std::optional<std::uint64_t> directory_files::free_bytes() {
  struct statvfs st {};
  if (::statvfs(directory_.c_str(), &st) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace sockpush
