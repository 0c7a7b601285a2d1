#include "sockpush/stdin_source.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

namespace sockpush {
namespace {

constexpr std::size_t read_chunk_bytes = 64 * 1024;
constexpr auto backpressure_poll = std::chrono::milliseconds(5);

}  // namespace

stdin_source::stdin_source(asio::io_context& io, line_intake& intake)
    : intake_(intake), in_(io), backpressure_timer_(io), chunk_(read_chunk_bytes) {
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
  std::int64_t now = 0;  // arrival time of the read, for lines without a timestamp
  auto on_line = [&](std::string_view line) { intake_.accept(line, "stdin", ++line_number_, now); };
  while (!stopped_) {
    // Back-pressure instead of loss: while carbon is slower than the
    // producer, stop reading and let the pipe fill up, as nc would.
    while (!stopped_ && intake_.congested()) {
      backpressure_timer_.expires_after(backpressure_poll);
      error_code ec;
      co_await backpressure_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    error_code ec;
    auto got = co_await in_.async_read_some(asio::buffer(chunk_),
                                            asio::redirect_error(asio::use_awaitable, ec));
    if (got > 0) {
      now = static_cast<std::int64_t>(std::time(nullptr));
      splitter_.feed(std::string_view(chunk_.data(), got), on_line);
      intake_.commit();
    }
    if (ec) {
      if (ec != asio::error::eof && ec != asio::error::operation_aborted)
        spdlog::error("cannot read stdin: {}", ec.message());
      break;
    }
  }
  now = static_cast<std::int64_t>(std::time(nullptr));
  splitter_.finish(on_line);
  intake_.commit();
}

}  // namespace sockpush
