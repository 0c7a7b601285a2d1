// sockpush: see README.md. Everything but argument dispatch lives in sockpush_core.
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <string_view>

#include "sockpush/cli.hpp"
#include "sockpush/daemon.hpp"
#include "sockpush/logging.hpp"
#include "sockpush/send_command.hpp"

int main(int argc, char** argv) {
  // A closed stdout pipe must be an error code on write, not a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  if (argc > 1 && std::string_view(argv[1]) == "send") return sockpush::run_send_command(argc - 1, argv + 1);
  try {
    auto action = sockpush::parse_command_line(argc, argv);
    switch (action.what) {
      case sockpush::cli_action::kind::print_and_exit:
        std::fputs(action.message.c_str(), stdout);
        return action.exit_code;
      case sockpush::cli_action::kind::check_config:
        fmt::print("{}: OK\n", action.message);
        return 0;
      case sockpush::cli_action::kind::run:
        break;
    }
    sockpush::setup_logging(action.cfg.log_level);
    sockpush::daemon daemon(action.cfg, action.once);
    return daemon.run();
  } catch (const sockpush::config_error& e) {
    fmt::print(stderr, "sockpush: {}\n", e.what());
    return sockpush::exit_usage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "sockpush: fatal: {}\n", e.what());
    return 1;
  }
}
