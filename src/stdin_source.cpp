#include "sockpush/stdin_source.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

namespace sockpush {
namespace {

constexpr std::size_t read_chunk_bytes = 64 * 1024;
/// Invalid lines logged one by one before the log switches to every 1000th.
constexpr std::uint64_t invalid_lines_logged_individually = 5;
constexpr auto backpressure_poll = std::chrono::milliseconds(5);

std::string printable_excerpt(std::string_view line) {
  std::string out;
  for (char c : line.substr(0, 80)) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (line.size() > 80) out += "...";
  return out;
}

}  // namespace

stdin_source::stdin_source(asio::io_context& io, line_buffer& buffer, line_writer& writer)
    : buffer_(buffer), writer_(writer), in_(io), backpressure_timer_(io), chunk_(read_chunk_bytes) {
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

void stdin_source::accept_line(std::string_view line) {
  ++line_number_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto verdict = validate_line(line, static_cast<std::int64_t>(std::time(nullptr)), batch_);
  if (verdict == line_verdict::ok) {
    ++accepted_;
    return;
  }
  if (verdict == line_verdict::empty) return;
  auto n = ++invalid_.by_reason[static_cast<std::size_t>(verdict)];
  auto total = invalid_.total();
  if (total <= invalid_lines_logged_individually || total % 1000 == 0)
    spdlog::warn("stdin line {}: refused ({}, {} such lines so far): \"{}\"", line_number_,
                 to_string(verdict), n, printable_excerpt(line));
}

void stdin_source::consume(std::string_view data) {
  std::size_t pos = 0;
  if (!partial_.empty()) {
    auto nl = data.find('\n');
    if (nl == std::string_view::npos) {
      // Cap the carried fragment: anything this long is refused anyway.
      if (partial_.size() <= max_line_bytes) partial_.append(data.substr(0, max_line_bytes + 1));
      return;
    }
    partial_.append(data.substr(0, std::min(nl, max_line_bytes + 1)));
    accept_line(partial_);
    partial_.clear();
    pos = nl + 1;
  }
  for (;;) {
    auto nl = data.find('\n', pos);
    if (nl == std::string_view::npos) break;
    accept_line(data.substr(pos, nl - pos));
    pos = nl + 1;
  }
  if (pos < data.size()) partial_.assign(data.substr(pos, std::min(data.size() - pos, max_line_bytes + 1)));
}

asio::awaitable<void> stdin_source::run() {
  while (!stopped_) {
    // Back-pressure instead of loss: while carbon is slower than the
    // producer, stop reading and let the pipe fill up, as nc would.
    while (!stopped_ && buffer_.bytes() > buffer_.max_bytes() / 2) {
      backpressure_timer_.expires_after(backpressure_poll);
      error_code ec;
      co_await backpressure_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    error_code ec;
    auto got = co_await in_.async_read_some(asio::buffer(chunk_),
                                            asio::redirect_error(asio::use_awaitable, ec));
    if (got > 0) {
      consume(std::string_view(chunk_.data(), got));
      buffer_.push(batch_);
      batch_.clear();
      writer_.wake();
    }
    if (ec) {
      if (ec != asio::error::eof && ec != asio::error::operation_aborted)
        spdlog::error("cannot read stdin: {}", ec.message());
      break;
    }
  }
  // nc sends a last line without '\n' too.
  if (!partial_.empty()) {
    accept_line(partial_);
    partial_.clear();
    buffer_.push(batch_);
    batch_.clear();
    writer_.wake();
  }
}

}  // namespace sockpush
