#include "sockpush/intake/stdin_source.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <ctime>

namespace sockpush {
namespace {

constexpr std::size_t read_chunk_bytes = 64 * 1024;

/// Arrival time of a read: the timestamp of lines that have none.
std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

}  // namespace

stdin_source::stdin_source(asio::io_context& io, line_intake& intake)
    : in_(io), backpressure_timer_(io), feed_(intake, "stdin", intake.rules(), read_chunk_bytes) {
  int fd = ::dup(STDIN_FILENO);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "dup(stdin)");
  in_.assign(fd);
}

stdin_source::~stdin_source() {
  error_code ignored;
  in_.close(ignored);
}

void stdin_source::stop() {
  stopped_ = true;
  error_code ignored;
  in_.cancel(ignored);
  backpressure_timer_.cancel();
}

asio::awaitable<void> stdin_source::run() {
  auto ec = co_await feed_.read(
      in_, backpressure_timer_, [this] { return !stopped_; }, unix_now, [] {});
  if (ec && ec != asio::error::eof && ec != asio::error::operation_aborted)
    spdlog::error("cannot read stdin: {}", ec.message());
  feed_.finish(unix_now());
}

}  // namespace sockpush
