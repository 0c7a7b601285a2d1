// Graphite plaintext: "path value timestamp\n", and the rules for the names
// sockpush builds itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sockpush {

/// Replaces every character that is not [A-Za-z0-9_-] with '_', so that a
/// host name or address becomes exactly one Graphite path component.
std::string sanitize_path_component(std::string_view text);

/// The host's short name (up to the first dot), sanitised; "unknown" if the
/// kernel has none.
std::string short_hostname();

/// Expands the prefix template. `{host}` is the only placeholder. Throws
/// std::invalid_argument naming the problem for an unknown placeholder, an
/// unbalanced brace, an empty result or characters Graphite paths cannot hold.
std::string expand_prefix(std::string_view templ, std::string_view host);

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
