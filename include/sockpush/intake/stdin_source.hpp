// Lines from standard input (`sockpush send`): read and handed to the intake
// as soon as they arrive, so a slow producer's line reaches the socket within
// one event-loop turn, not when some block fills up.
#pragma once

#include "sockpush/common/asio.hpp"
#include "sockpush/intake/line_intake.hpp"
#include "sockpush/intake/stream_feed.hpp"

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
  asio::posix::stream_descriptor in_;
  asio::steady_timer backpressure_timer_;
  stream_feed feed_;
  bool stopped_ = false;
};

}  // namespace sockpush
