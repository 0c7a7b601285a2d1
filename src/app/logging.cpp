#include "sockpush/app/logging.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>

#include "sockpush/common/config_error.hpp"

namespace sockpush {

bool is_log_level(std::string_view level) {
  return spdlog::level::from_str(std::string(level)) != spdlog::level::off || level == "off";
}

void setup_logging(std::string_view level, std::string_view target) {
  if (!is_log_level(level)) throw config_error(fmt::format("unknown log level '{}'", level));
  if (target != "stderr" && target != "syslog")
    throw config_error(fmt::format("unknown log target '{}' (stderr or syslog)", target));
  spdlog::drop("sockpush");
  std::shared_ptr<spdlog::logger> logger;
  if (target == "syslog") {
    logger = spdlog::syslog_logger_st("sockpush", "sockpush", LOG_PID, LOG_DAEMON);
    logger->set_pattern("%v");  // syslog carries the level and the time
  } else {
    logger = spdlog::stderr_logger_st("sockpush");
    // No colour and no date: journald and logread add their own timestamps.
    logger->set_pattern("sockpush: %l: %v");
  }
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace sockpush
