// Lines from standard input (`sockpush send`): read and handed to the intake
// as soon as they arrive, so a slow producer's line reaches the socket within
// one event-loop turn, not when some block fills up.
#pragma once

#include <cstdint>
#include <vector>

#include "sockpush/asio.hpp"
#include "sockpush/line_intake.hpp"

namespace sockpush {

class stdin_source {
 public:
  stdin_source(asio::io_context& io, line_intake& intake);
  ~stdin_source();

  /// Reads until end of input or stop().
  asio::awaitable<void> run();
  /// Stops reading (signal): what was read so far is still delivered.
  void stop();

 private:
  line_intake& intake_;
  asio::posix::stream_descriptor in_;
  asio::steady_timer backpressure_timer_;
  std::vector<char> chunk_;
  line_splitter splitter_;
  std::uint64_t line_number_ = 0;
  bool stopped_ = false;
};

}  // namespace sockpush
