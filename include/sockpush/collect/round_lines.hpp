// Graphite plaintext as collectors write it: "prefix.name value timestamp\n".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sockpush {

/// Appends the lines of one collection round to a string, all with the same
/// prefix and timestamp. Collectors write through this and nothing else.
class round_lines {
 public:
  round_lines(std::string& out, std::string_view prefix, std::int64_t timestamp)
      : out_(out), prefix_(prefix), timestamp_(timestamp) {}

  /// Appends "{prefix}.{name} {value} {timestamp}\n".
  void add(std::string_view name, std::uint64_t value);
  void add(std::string_view name, double value);

  std::int64_t timestamp() const { return timestamp_; }

 private:
  void append_path(std::string_view name);
  void append_timestamp();

  std::string& out_;
  std::string_view prefix_;
  std::int64_t timestamp_;
};

}  // namespace sockpush
