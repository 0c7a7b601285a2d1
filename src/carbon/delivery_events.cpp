// The delivery machine's events, and its reports in words.
#include "sockpush/carbon/delivery_events.hpp"

#include <fmt/format.h>

#include "sockpush/common/overloaded.hpp"

namespace sockpush {

delivery_event delivery_event::connected(link_id link, std::string peer) {
  return {event::connected{link, std::move(peer)}};
}

delivery_event delivery_event::connect_failed(link_id link, std::string why) {
  return {event::connect_failed{link, std::move(why)}};
}

delivery_event delivery_event::wrote(link_id link, std::size_t bytes, link_error error,
                                     std::string why) {
  return {event::wrote{link, bytes, error, std::move(why)}};
}

delivery_event delivery_event::peer_closed(link_id link, link_error error, std::string why) {
  return {event::peer_closed{link, error, std::move(why)}};
}

delivery_event delivery_event::ack_snapshot(link_id link, snapshot_purpose purpose,
                                            unacked_bytes unacked,
                                            std::optional<clock::time_point> last_ack) {
  return {event::ack_snapshot{link, purpose, unacked, last_ack}};
}

report_level level_of(const delivery_report& r) {
  return std::visit(overloaded{
                        [](const report::next_attempt&) { return report_level::debug; },
                        [](const report::move_failed&) { return report_level::debug; },
                        [](const report::cannot_connect&) { return report_level::warn; },
                        [](const report::lost&) { return report_level::warn; },
                        [](const report::replay_truncated&) { return report_level::warn; },
                        [](const report::undelivered&) { return report_level::warn; },
                        [](const auto&) { return report_level::info; },
                    },
                    r);
}

namespace {

std::string all_of(const std::vector<std::string>& destinations) {
  return fmt::format("{}", fmt::join(destinations, ", "));
}

std::string shown(const std::vector<std::string>& destinations, std::size_t d,
                  const std::string& peer) {
  return peer.empty() ? destinations[d] : fmt::format("{} ({})", destinations[d], peer);
}

std::string describe(const connection_loss& loss) {
  switch (loss.how) {
    case loss_noticed::by_stall_timer:
      return fmt::format("stalled: no write progress for {} ms", loss.limit.count());
    case loss_noticed::by_ack_check:
      return fmt::format(
          "timed out: {} bytes written {} ms ago were never acknowledged (user_timeout {} ms)",
          loss.unacked, loss.waited.count(), loss.limit.count());
    case loss_noticed::by_write:
      return "write failed: " + loss.error;
    case loss_noticed::by_read:
      break;
  }
  return loss.cause == disconnect_cause::closed_by_peer ? "closed by peer" : loss.error;
}

}  // namespace

std::string describe(const delivery_report& r, const std::vector<std::string>& destinations) {
  return std::visit(
      overloaded{
          [&](const report::connected& c) {
            return fmt::format("connected to carbon at {}",
                               shown(destinations, c.destination, c.peer));
          },
          [&](const report::reconnected& c) {
            return fmt::format(
                "connected to carbon at {} after {} failed attempts ({:.1f} s); {} lines buffered",
                shown(destinations, c.destination, c.peer), c.failed_attempts,
                std::chrono::duration<double>(c.outage).count(), c.buffered_lines);
          },
          [&](const report::cannot_connect& c) {
            std::string failures;
            for (const auto& f : c.failures)
              failures += (failures.empty() ? "" : "; ") +
                          (destinations.size() > 1 ? destinations[f.destination] + ": " : "") +
                          f.why;
            return fmt::format("cannot connect to carbon at {}: {}; buffering and retrying",
                               all_of(destinations), failures);
          },
          [&](const report::next_attempt& n) {
            return fmt::format("next connection attempt in {} ms", n.in.count());
          },
          [&](const report::move_failed& m) {
            return fmt::format("staying on {}: {} still fails: {}", destinations[m.from],
                               destinations[m.to], m.why);
          },
          [&](const report::moved& m) {
            return fmt::format(
                "moved the connection from {} to {} ({}), the old one drained first",
                destinations[m.from], destinations[m.to],
                m.why == move_reason::fail_back ? "fail-back" : "reconnect_interval");
          },
          [&](const report::lost& l) {
            return fmt::format("connection to carbon at {} lost: {}; buffering and reconnecting",
                               destinations[l.destination], describe(l.loss));
          },
          [&](const report::replaying& again) {
            return fmt::format("re-sending {} lines ({} bytes) the peer may not have stored",
                               again.lines, again.bytes);
          },
          [&](const report::replay_truncated& t) {
            return fmt::format(
                "{} bytes or more to re-send were older than the history kept; they are lost",
                t.bytes);
          },
          [&](const report::undelivered& u) {
            return fmt::format("{} lines could not be delivered to {} before the deadline", u.lines,
                               all_of(destinations));
          },
      },
      r);
}

}  // namespace sockpush
