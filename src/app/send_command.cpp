#include "sockpush/app/send_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <optional>

#include "sockpush/app/cli.hpp"
#include "sockpush/app/config.hpp"
#include "sockpush/app/logging.hpp"
#include "sockpush/carbon/carbon_writer.hpp"
#include "sockpush/carbon/destination.hpp"
#include "sockpush/intake/stdin_source.hpp"

namespace sockpush {

namespace {

/// What `sockpush send` was asked to do.
struct send_request {
  config cfg;
  host_port destination;
  milliseconds deadline{};
};

/// Reads the command line. Nothing to send (help, bad arguments): nullopt,
/// with the exit code in `exit_code`.
std::optional<send_request> parse_arguments(int argc, char** argv, int& exit_code) {
  CLI::App app{
      "sockpush send: forward Graphite lines from stdin over one connection "
      "(drop-in for `| nc HOST PORT`)"};
  std::string host = "127.0.0.1";
  std::string port;
  std::string timeout = "10";
  std::string config_path;
  std::string log_level = "warn";
  int flush_ms = -1;
  app.add_option("host", host, "HOST, HOST:PORT or [IPv6]:PORT (default 127.0.0.1)");
  app.add_option("port", port, "PORT, nc style (default 2003)");
  app.add_option("--timeout", timeout,
                 "Seconds allowed after end of input to deliver what is left (default 10)");
  app.add_option("-c,--config", config_path,
                 "Take the [carbon], [buffer] and [input] settings from FILE");
  app.add_option("--log-level", log_level, "trace, debug, info, warn (default), error, off");
  app.add_option("--flush-ms", flush_ms,
                 "A line waits at most this long for the next ones, to fill packets "
                 "(default 50, [send] flush_ms; 0 = write each read at once)")
      ->check(CLI::Range(0, 10000));
  send_request request;
  exit_code = exit_usage;
  try {
    app.parse(argc, argv);
    if (!config_path.empty()) request.cfg = load_config(config_path);
    std::string why;
    auto parsed = parse_host_port(port.empty() ? host : host + ":" + port, &why);
    if (!parsed) throw config_error(fmt::format("destination '{}': {}", host, why));
    request.destination = *parsed;
    request.deadline = parse_seconds(timeout, "--timeout");
    request.cfg.carbon.flush_delay =
        flush_ms >= 0 ? milliseconds{flush_ms} : request.cfg.send_flush;
    request.cfg.log_level = log_level;
    setup_logging(request.cfg.log_level);
    return request;
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    exit_code = 0;
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "sockpush send: {} (see sockpush send --help)\n", e.what());
  } catch (const config_error& e) {
    fmt::print(stderr, "sockpush send: {}\n", e.what());
  }
  return std::nullopt;
}

/// Forwards stdin over one connection until end of input, then delivers
/// the rest by the deadline. Returns the exit code.
int forward_stdin(const send_request& request) {
  const auto& cfg = request.cfg;
  asio::io_context io{1};
  line_buffer buffer(cfg.buffer_max_bytes);
  carbon_writer writer(io, cfg.carbon, {carbon_destination{request.destination, {}}}, buffer);
  line_intake intake(buffer, [&writer] { writer.wake(); }, {cfg.path_chars, {}});
  stdin_source source(io, intake);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const error_code& ec, int) {
    if (!ec) source.stop();
  });
  asio::co_spawn(io, writer.run(), [&](std::exception_ptr e) {
    signals.cancel();
    rethrow_if_failed(e);
  });
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await source.run();
        writer.finish(std::chrono::steady_clock::now() + request.deadline);
      },
      rethrow_if_failed);
  io.run();

  const auto& invalid = intake.invalid();
  if (invalid.total() > 0)
    spdlog::warn("{} invalid lines were not forwarded ({})", invalid.total(), invalid.summary());
  if (writer.delivered()) return 0;
  fmt::print(stderr,
             "sockpush send: {} lines could not be delivered to {} within {} s after end of "
             "input\n",
             buffer.lines(), request.destination.to_string(),
             static_cast<double>(request.deadline.count()) / 1000.0);
  return 1;
}

}  // namespace

int run_send_command(int argc, char** argv) {
  int exit_code = 0;
  const auto request = parse_arguments(argc, argv, exit_code);
  return request ? forward_stdin(*request) : exit_code;
}

}  // namespace sockpush
