// Test helpers for files: no processes, no sockets (unit tests use them too).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace test {

/// A fresh directory under /tmp, removed with its content at the end.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);
std::vector<std::string> split_lines(const std::string& text);
/// How often `what` stands in `text`.
std::size_t count_of(const std::string& text, const std::string& what);

}  // namespace test
