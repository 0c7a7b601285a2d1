#include "sockpush/app/send_command.hpp"

#include <fmt/format.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <functional>
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

/// The --tls* flags over [carbon] tls_* from -c; any of them turns TLS on.
void apply_tls_flags(bool tls, bool insecure, const tls_config& flags, tls_config& out) {
  for (auto [flag, setting] :
       {std::pair{&flags.ca_file, &out.ca_file}, std::pair{&flags.cert_file, &out.cert_file},
        std::pair{&flags.key_file, &out.key_file}, std::pair{&flags.server_name, &out.server_name}})
    if (!flag->empty()) {
      *setting = *flag;
      tls = true;
    }
  if (insecure) out.verify = false;
  out.enabled = out.enabled || tls || insecure;
  check_tls(out);
  warn_if_unverified(out);
}

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
  bool tls = false, tls_insecure = false;
  tls_config tls_flags;
  app.add_option("host", host, "HOST, HOST:PORT or [IPv6]:PORT (default 127.0.0.1)");
  app.add_option("port", port, "PORT, nc style (default 2003)");
  app.add_option("--timeout", timeout,
                 "Seconds to deliver what is left after end of input or a signal, and the "
                 "most a waiting line may see no progress (default 10)");
  app.add_option("-c,--config", config_path,
                 "Take the [carbon], [buffer] and [input] settings from FILE");
  app.add_option("--log-level", log_level, "trace, debug, info, warn (default), error, off");
  app.add_option("--flush-ms", flush_ms,
                 "A line waits at most this long for the next ones, to fill packets "
                 "(default 50, [send] flush_ms; 0 = write each read at once)")
      ->check(CLI::Range(0, 10000));
  // As ncat --ssl has them, with the certificate checked unless told not to.
  app.add_flag("--tls", tls, "Send over TLS (carbon-c-relay's listen ... ssl, stunnel)");
  app.add_option("--tls-ca", tls_flags.ca_file,
                 "Trust the CAs in this PEM file (default: the system's trust store)");
  app.add_option("--tls-cert", tls_flags.cert_file, "Client certificate (PEM), for mutual TLS");
  app.add_option("--tls-key", tls_flags.key_file, "The client certificate's key (PEM)");
  app.add_option("--tls-server-name", tls_flags.server_name,
                 "Name the server's certificate must hold, sent as SNI (default: HOST)");
  app.add_flag("--tls-insecure", tls_insecure,
               "Do not check the server's certificate (anyone on the path can read and change "
               "what is sent)");
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
        flush_ms >= 0 ? milliseconds{flush_ms} : request.cfg.send_flush_ms;
    request.cfg.log_level = log_level;
    setup_logging(request.cfg.log_level);
    apply_tls_flags(tls, tls_insecure, tls_flags, request.cfg.carbon.tls);
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

/// Why `sockpush send` stopped waiting for carbon.
enum class stop_reason {
  end_of_input,  ///< the input ended (or a first signal ended it): --timeout to deliver the rest
  no_progress,   ///< lines waited and nothing was written for --timeout
  interrupted,   ///< a second SIGINT/SIGTERM: now
};

/// Gives up once lines are waiting and none has been handed to carbon's
/// kernel for `allowed`, as `nc -w` gives up on a connection that does not
/// move; a slow producer with nothing waiting is never cut off.
asio::awaitable<void> watch_progress(asio::steady_timer& timer, const line_writer& writer,
                                     const line_buffer& buffer, milliseconds allowed,
                                     std::function<void()> give_up) {
  using clock = std::chrono::steady_clock;
  auto last_sent = writer.stats().sent_lines;
  auto still_since = clock::now();
  for (;;) {
    timer.expires_after(std::clamp(allowed / 4, milliseconds{10}, milliseconds{1000}));
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // the writer is done
    const auto sent = writer.stats().sent_lines;
    const bool waiting = !buffer.empty() || writer.pending_lines() > 0;
    if (sent != last_sent || !waiting) {
      last_sent = sent;
      still_since = clock::now();
    } else if (clock::now() - still_since >= allowed) {
      give_up();
      co_return;
    }
  }
}

std::string stop_message(stop_reason reason, double timeout_s) {
  switch (reason) {
    case stop_reason::no_progress:
      return fmt::format("nothing could be written for {} s (--timeout)", timeout_s);
    case stop_reason::interrupted:
      return "interrupted";
    case stop_reason::end_of_input:
      break;
  }
  return fmt::format("within {} s after end of input", timeout_s);
}

/// Forwards stdin over one connection until end of input, then delivers
/// the rest by the deadline. Returns the exit code.
int forward_stdin(const send_request& request) {
  using clock = std::chrono::steady_clock;
  const auto& cfg = request.cfg;
  asio::io_context io{1};
  line_buffer buffer(cfg.buffer_max_bytes);
  carbon_writer writer(io, cfg.carbon, {carbon_destination{request.destination, {}}}, buffer);
  line_intake intake(buffer, [&writer] { writer.wake(); }, {cfg.path_chars, {}});
  stdin_source source(io, intake);
  auto reason = stop_reason::end_of_input;
  // Stops now, whatever the input does: what was not acknowledged goes back
  // to the buffer and is counted.
  auto stop_now = [&](stop_reason why) {
    reason = why;
    source.stop();
    writer.finish(clock::now());
  };
  // A first SIGINT/SIGTERM ends the input (the rest gets --timeout), a
  // second one ends the run.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  int signals_received = 0;
  std::function<void()> wait_for_signal = [&] {
    signals.async_wait([&](const error_code& ec, int) {
      if (ec) return;
      if (++signals_received > 1) {
        stop_now(stop_reason::interrupted);
        return;
      }
      source.stop();
      wait_for_signal();
    });
  };
  wait_for_signal();
  asio::steady_timer progress_timer(io);
  asio::co_spawn(io, writer.run(), [&](std::exception_ptr e) {
    signals.cancel();
    progress_timer.cancel();
    rethrow_if_failed(e);
  });
  asio::co_spawn(io,
                 watch_progress(progress_timer, writer, buffer, request.deadline,
                                [&] { stop_now(stop_reason::no_progress); }),
                 rethrow_if_failed);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await source.run();
        if (reason == stop_reason::end_of_input) writer.finish(clock::now() + request.deadline);
      },
      rethrow_if_failed);
  io.run();

  const auto& invalid = intake.invalid();
  if (invalid.total() > 0)
    spdlog::warn("{} invalid lines were not forwarded ({})", invalid.total(), invalid.summary());
  if (writer.delivered() && reason == stop_reason::end_of_input) return 0;
  fmt::print(stderr, "sockpush send: {} lines could not be delivered to {}: {}\n", buffer.lines(),
             request.destination.to_string(),
             stop_message(reason, static_cast<double>(request.deadline.count()) / 1000.0));
  return 1;
}

}  // namespace

int run_send_command(int argc, char** argv) {
  // A pipe tool that lives for one input: batches of up to 256 KiB pass
  // from the buffer to the write and the replay history and are freed.
  // Keeping freed memory in the heap instead of returning it to the kernel,
  // to fault it in again for the next batch, was a third of the CPU of a
  // run that kept the buffer busy (over TLS). glibc only; elsewhere a no-op.
#ifdef M_MMAP_THRESHOLD
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
  int exit_code = 0;
  const auto request = parse_arguments(argc, argv, exit_code);
  return request ? forward_stdin(*request) : exit_code;
}

}  // namespace sockpush
