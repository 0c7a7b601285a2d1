// Command line: flags override the configuration file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sockpush/app/config.hpp"

namespace sockpush {

/// Exit code for bad flags or configuration (as BSD sysexits' EX_USAGE-ish
/// tools do; 1 is kept for "ran, but could not deliver").
inline constexpr int exit_usage = 2;

/// What main() should do after the command line was read.
struct cli_action {
  enum class kind { run, check_config, print_and_exit };
  kind what = kind::run;
  config cfg;
  bool once = false;
  std::string message;  ///< For print_and_exit (version, help).
};

/// Parses argv, loads the config file if any and applies the overrides.
/// Throws config_error (exit_usage) with a message naming what was wrong.
cli_action parse_command_line(int argc, char** argv);

}  // namespace sockpush
