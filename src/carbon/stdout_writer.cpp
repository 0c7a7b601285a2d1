#include "sockpush/carbon/stdout_writer.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

namespace sockpush {

stdout_writer::stdout_writer(asio::io_context& io, line_buffer& buffer)
    : buffer_(buffer), out_(io), wake_timer_(io, std::chrono::steady_clock::time_point::max()) {
  int fd = ::dup(STDOUT_FILENO);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "dup(stdout)");
  out_.assign(fd);
}

stdout_writer::~stdout_writer() {
  error_code ignored;
  out_.close(ignored);
}

void stdout_writer::wake() {
  wake_timer_.cancel();
}

void stdout_writer::finish(std::chrono::steady_clock::time_point) {
  finishing_ = true;
  wake_timer_.cancel();
}

asio::awaitable<void> stdout_writer::run() {
  for (;;) {
    if (buffer_.empty()) {
      if (finishing_) break;
      error_code ec;
      co_await wake_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    in_flight_.clear();
    auto lines = buffer_.take(in_flight_, in_flight_.max_size());
    error_code ec;
    co_await asio::async_write(out_, asio::buffer(in_flight_),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      // A closed pipe (sockpush ... | head) ends the output for good.
      spdlog::error("cannot write to stdout: {}", ec.message());
      failed_ = true;
      buffer_.clear();
      break;
    }
    stats_.sent_lines += lines;
  }
}

}  // namespace sockpush
