#include "sockpush/stdin_source.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

namespace sockpush {
namespace {

constexpr std::size_t read_chunk_bytes = 64 * 1024;

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
  while (!stopped_) {
    // Back-pressure instead of loss: while carbon is slower than the
    // producer, stop reading and let the pipe fill up, as nc would.
    while (!stopped_ && intake_.congested()) co_await line_intake::pause(backpressure_timer_);
    error_code ec;
    auto got = co_await in_.async_read_some(asio::buffer(chunk_),
                                            asio::redirect_error(asio::use_awaitable, ec));
    if (got > 0) {
      // Arrival time of the read: the timestamp of lines that have none.
      auto now = static_cast<std::int64_t>(std::time(nullptr));
      intake_.feed(splitter_, std::string_view(chunk_.data(), got), "stdin", line_number_, now);
    }
    if (ec) {
      if (ec != asio::error::eof && ec != asio::error::operation_aborted)
        spdlog::error("cannot read stdin: {}", ec.message());
      break;
    }
  }
  intake_.finish(splitter_, "stdin", line_number_, static_cast<std::int64_t>(std::time(nullptr)));
}

}  // namespace sockpush
