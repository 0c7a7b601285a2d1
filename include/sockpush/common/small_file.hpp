// Reading a whole small file (a /proc value, the spool) in one go.
#pragma once

#include <optional>
#include <string>

namespace sockpush {

/// Whole file, or nullopt if it cannot be opened.
std::optional<std::string> read_small_file(const char* path);

}  // namespace sockpush
