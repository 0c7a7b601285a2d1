// One byte stream read into the intake: stdin, a listener's client, an exec
// job's stdout. Each read is fed as it comes (a slow producer's line leaves
// at once); while the buffer is congested the stream is not read, so the
// producer's pipe or socket fills up: back-pressure, not loss.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sockpush/common/asio.hpp"
#include "sockpush/intake/line_intake.hpp"

namespace sockpush {

class stream_feed {
 public:
  /// `origin` names the stream in logs; `rules` are the intake's or a job's own.
  stream_feed(line_intake& intake, std::string origin, const line_rules& rules,
              std::size_t read_bytes);

  /// Reads until `stream` ends or fails, or `keep_reading()` turns false.
  /// Each read's lines get `timestamp()` where they have none; `on_progress`
  /// runs on every read and every back-pressure pause (a client waiting on
  /// us is not idle). Returns the error that ended the stream (eof: a clean
  /// end; none: keep_reading() stopped it).
  template <typename Stream, typename KeepReading, typename Timestamp, typename OnProgress>
  asio::awaitable<error_code> read(Stream& stream, asio::steady_timer& pause,
                                   KeepReading keep_reading, Timestamp timestamp,
                                   OnProgress on_progress) {
    error_code ec;
    while (keep_reading()) {
      if (intake_.congested()) {
        on_progress();
        co_await wait_a_little(pause);
        continue;
      }
      auto got = co_await stream.async_read_some(asio::buffer(chunk_),
                                                 asio::redirect_error(asio::use_awaitable, ec));
      if (got > 0) {
        on_progress();
        intake_.feed(splitter_, std::string_view(chunk_.data(), got), origin_, line_number_,
                     timestamp(), rules_);
      }
      if (ec) break;
    }
    co_return ec;
  }

  /// The producer ended the stream cleanly: a last line without '\n' counts.
  void finish(std::int64_t now);
  /// It ended otherwise (reset, our stop, idle close): a last half line is
  /// refused as truncated, never completed with a made-up timestamp.
  void abandon();

  const std::string& origin() const { return origin_; }
  std::uint64_t lines() const { return line_number_; }

 private:
  /// One back-pressure pause; polling is cheap, it only runs while carbon
  /// is behind.
  static asio::awaitable<void> wait_a_little(asio::steady_timer& timer);

  line_intake& intake_;
  std::string origin_;
  line_rules rules_;
  line_splitter splitter_;
  std::uint64_t line_number_ = 0;
  std::vector<char> chunk_;
};

}  // namespace sockpush
