// `--carbon -`: the lines go to standard output instead of a socket, for
// previews and for piping into other tools.
#pragma once

#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/carbon/line_writer.hpp"
#include "sockpush/common/asio.hpp"

namespace sockpush {

class stdout_writer final : public line_writer {
 public:
  stdout_writer(asio::io_context& io, line_buffer& buffer);
  ~stdout_writer() override;

  asio::awaitable<void> run() override;
  void wake() override;
  void finish(std::chrono::steady_clock::time_point deadline) override;
  bool delivered() const override { return buffer_.empty() && !failed_; }

 private:
  line_buffer& buffer_;
  /// A duplicate of fd 1 so that closing the descriptor leaves stdout alone.
  asio::posix::stream_descriptor out_;
  asio::steady_timer wake_timer_;
  std::string in_flight_;
  bool finishing_ = false;
  bool failed_ = false;
};

}  // namespace sockpush
