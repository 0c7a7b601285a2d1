// sockpush: see README.md. Everything but argument dispatch lives in sockpush_core.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <string_view>

#include "sockpush/app/cli.hpp"
#include "sockpush/app/daemon.hpp"
#include "sockpush/app/logging.hpp"
#include "sockpush/app/send_command.hpp"
#include "sockpush/buffer/line_buffer.hpp"

int main(int argc, char** argv) {
  // A closed stdout pipe must be an error code on write, not a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  if (argc > 1 && std::string_view(argv[1]) == "send")
    return sockpush::run_send_command(argc - 1, argv + 1);
  try {
    auto action = sockpush::parse_command_line(argc, argv);
    switch (action.what) {
      case sockpush::cli_action::kind::print_and_exit:
        std::fputs(action.message.c_str(), stdout);
        return 0;
      case sockpush::cli_action::kind::check_config:
        fmt::print("{}: OK\n", action.message);
        return 0;
      case sockpush::cli_action::kind::run:
        break;
    }
    sockpush::setup_logging(action.cfg.log_level, action.cfg.log_target);
    // SIGHUP: the same command line again (file plus flags). The running
    // daemon checks the result first; only a valid one replaces it.
    auto reread = [argc, argv]() {
      auto again = sockpush::parse_command_line(argc, argv);
      if (again.what != sockpush::cli_action::kind::run)
        throw sockpush::config_error("the command line no longer starts the daemon");
      return again.cfg;
    };
    auto cfg = action.cfg;
    std::string carried;
    for (;;) {
      sockpush::daemon daemon(cfg, action.once, reread, std::move(carried));
      int code = daemon.run();
      if (!daemon.reload_requested()) return code;
      cfg = daemon.next_config();
      carried = daemon.leftover_lines();
      // The old daemon is gone before the new one binds its listeners.
      sockpush::setup_logging(cfg.log_level, cfg.log_target);
      spdlog::info("configuration reloaded; {} undelivered lines carried over",
                   sockpush::count_lines(carried));
    }
  } catch (const sockpush::config_error& e) {
    fmt::print(stderr, "sockpush: {}\n", e.what());
    return sockpush::exit_usage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "sockpush: fatal: {}\n", e.what());
    return 1;
  }
}
