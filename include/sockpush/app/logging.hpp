// spdlog set-up: plain lines on stderr, which journald and procd collect,
// or syslog.
#pragma once

#include <string_view>

namespace sockpush {

/// Installs (or replaces, on reload) the default logger at the given level
/// name, writing to "stderr" or "syslog" (routers read it with logread).
/// Throws config_error for an unknown level or target.
void setup_logging(std::string_view level, std::string_view target = "stderr");

/// Validates a level name without changing anything.
bool is_log_level(std::string_view level);

}  // namespace sockpush
