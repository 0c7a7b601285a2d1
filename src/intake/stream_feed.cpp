#include "sockpush/intake/stream_feed.hpp"

namespace sockpush {

stream_feed::stream_feed(line_intake& intake, std::string origin, const line_rules& rules,
                         std::size_t read_bytes)
    : intake_(intake), origin_(std::move(origin)), rules_(rules), chunk_(read_bytes) {}

void stream_feed::finish(std::int64_t now) {
  intake_.finish(splitter_, origin_, line_number_, now, rules_);
}

void stream_feed::abandon() {
  intake_.abandon(splitter_, origin_, line_number_);
}

asio::awaitable<void> stream_feed::wait_a_little(asio::steady_timer& timer) {
  constexpr auto backpressure_poll = std::chrono::milliseconds(5);
  timer.expires_after(backpressure_poll);
  error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace sockpush
