// The outage queue's view of its directory, so that the queue's decisions
// can be tested against an in-memory directory that fails on demand and
// loses what was never synced. Every call returns 0 or an errno value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sockpush {

class queue_files {
 public:
  struct entry {
    std::string name;
    std::uint64_t bytes = 0;
  };
  virtual ~queue_files() = default;

  /// The regular files in the directory.
  virtual int list(std::vector<entry>& out) = 0;
  /// Up to `length` bytes from `offset` (fewer at the end of the file).
  virtual int read_at(const std::string& name, std::uint64_t offset, std::size_t length,
                      std::string& out) = 0;
  /// Appends `data` with one write(), creating the file if needed. A write
  /// that fails part-way is undone: the file keeps its earlier length.
  virtual int append(const std::string& name, std::string_view data) = 0;
  /// fdatasync.
  virtual int sync(const std::string& name) = 0;
  virtual int remove(const std::string& name) = 0;
  /// fsync of the directory: a create or an unlink reaches the disk.
  virtual int sync_directory() = 0;
  /// Bytes an unprivileged writer may still use (statvfs); nullopt if unknown.
  virtual std::optional<std::uint64_t> free_bytes() = 0;
};

/// The real directory. Keeps the file being appended to open.
class directory_files final : public queue_files {
 public:
  explicit directory_files(std::string directory);
  ~directory_files() override;
  directory_files(const directory_files&) = delete;
  directory_files& operator=(const directory_files&) = delete;

  const std::string& directory() const { return directory_; }

  int list(std::vector<entry>& out) override;
  int read_at(const std::string& name, std::uint64_t offset, std::size_t length,
              std::string& out) override;
  int append(const std::string& name, std::string_view data) override;
  int sync(const std::string& name) override;
  int remove(const std::string& name) override;
  int sync_directory() override;
  std::optional<std::uint64_t> free_bytes() override;

 private:
  /// The open descriptor of `name` for appending, opening it if needed.
  int open_for_append(const std::string& name, int& fd);
  void close_open();

  std::string directory_;
  std::string open_name_;
  int open_fd_ = -1;
};

}  // namespace sockpush
