// spdlog set-up: plain lines on stderr, which journald and procd collect.
#pragma once

#include <string_view>

namespace sockpush {

/// Installs the default logger at the given level name. Throws config_error
/// for an unknown level.
void setup_logging(std::string_view level);

/// Validates a level name without changing anything.
bool is_log_level(std::string_view level);

}  // namespace sockpush
