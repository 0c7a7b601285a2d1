// Lines from standard input (`sockpush send`): read, validated, pushed to the
// buffer as soon as they arrive, so a slow producer's line reaches the socket
// within one event-loop turn, not when some block fills up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sockpush/asio.hpp"
#include "sockpush/line_buffer.hpp"
#include "sockpush/line_validator.hpp"
#include "sockpush/line_writer.hpp"

namespace sockpush {

class stdin_source {
 public:
  stdin_source(asio::io_context& io, line_buffer& buffer, line_writer& writer);
  ~stdin_source();

  /// Reads until end of input or stop().
  asio::awaitable<void> run();
  /// Stops reading (signal): what was read so far is still delivered.
  void stop();

  std::uint64_t accepted_lines() const { return accepted_; }
  const invalid_line_counts& invalid() const { return invalid_; }

 private:
  void consume(std::string_view data);
  void accept_line(std::string_view line);

  line_buffer& buffer_;
  line_writer& writer_;
  asio::posix::stream_descriptor in_;
  asio::steady_timer backpressure_timer_;
  std::vector<char> chunk_;
  std::string partial_;  ///< Start of a line whose '\n' has not arrived yet.
  std::string batch_;    ///< Valid lines of one read, pushed to the buffer at once.
  std::uint64_t line_number_ = 0;
  std::uint64_t accepted_ = 0;
  invalid_line_counts invalid_;
  bool stopped_ = false;
};

}  // namespace sockpush
