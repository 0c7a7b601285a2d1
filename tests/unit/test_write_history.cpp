// The byte-numbered history of written batches, and the failover order.
#include <doctest/doctest.h>

#include "sockpush/carbon/destination_order.hpp"
#include "sockpush/carbon/write_history.hpp"

using namespace sockpush;
using namespace std::chrono_literals;

namespace {

const auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));

/// A history holding batches written at t0, t0 + 1 s, ...
write_history with_batches(std::size_t cap, const std::vector<std::string>& batches) {
  write_history h(cap);
  for (std::size_t i = 0; i < batches.size(); ++i) {
    h.mark_write(t0 + i * 1s);
    h.add(std::string(batches[i]));
  }
  return h;
}

}  // namespace

TEST_CASE("history: bytes are numbered from the first ever written, across batches") {
  auto h = with_batches(1 << 20, {"a 1 1\n", "bb 2 2\n"});
  CHECK(h.begin() == 0);
  CHECK(h.end() == 13);
  CHECK(h.lines_from(0) == "a 1 1\nbb 2 2\n");
  CHECK(h.lines_from(6) == "bb 2 2\n");
  CHECK(h.lines_from(13).empty());
}

TEST_CASE("history: the lines from byte b start at the line that holds b") {
  auto h = with_batches(1 << 20, {"a 1 1\nbb 2 2\n", "ccc 3 3\n"});
  CHECK(h.lines_from(8) == "bb 2 2\nccc 3 3\n");         // inside "bb ..."
  CHECK(h.lines_from(5) == "a 1 1\nbb 2 2\nccc 3 3\n");  // its '\n' is still line one
  CHECK(h.lines_from(13) == "ccc 3 3\n");
}

TEST_CASE("history: a torn last line is not a line, the buffer holds it whole") {
  auto h = with_batches(1 << 20, {"a 1 1\nbb 2"});
  CHECK(h.lines_from(0) == "a 1 1\n");
  CHECK(h.lines_from(7).empty());
}

TEST_CASE("history: whole old batches leave once the newer ones cover the cap") {
  auto h = with_batches(10, {"a 1 1\n", "b 2 2\n", "c 3 3\n"});
  // 18 bytes written; the last two batches (12 bytes) cover the cap of 10.
  CHECK(h.begin() == 6);
  CHECK(h.end() == 18);
  CHECK(h.lines_from(0) == "b 2 2\nc 3 3\n");  // from before begin(): from begin()
  CHECK(h.take_spare().capacity() >= 6);       // the storage of the batch that left
  CHECK(h.take_spare().empty());
}

TEST_CASE("history: the first write at or after t, for the replay windows") {
  auto h = with_batches(1 << 20, {"a 1 1\n", "b 2 2\n", "c 3 3\n"});  // at 0 s, 1 s, 2 s
  CHECK(h.first_written_since(t0 - 1s) == 0);
  CHECK(h.first_written_since(t0) == 0);
  CHECK(h.first_written_since(t0 + 1ms) == 6);
  CHECK(h.first_written_since(t0 + 1s) == 6);
  CHECK(h.first_written_since(t0 + 2s) == 12);
  CHECK(h.first_written_since(t0 + 3s) == 18);  // none: end()
}

TEST_CASE("history: a window that reaches back past the kept bytes is told so") {
  auto h = with_batches(10, {"a 1 1\n", "b 2 2\n", "c 3 3\n", "d 4 4\n"});
  REQUIRE(h.begin() == 12);
  CHECK(h.first_written_since(t0 + 1s) == 6);  // "b" left the history: below begin()
  CHECK(h.first_written_since(t0 + 1500ms) == 12);
  CHECK(h.lines_from(6) == "c 3 3\nd 4 4\n");
}

TEST_CASE("history: when byte b was written, also for a write still under way") {
  auto h = with_batches(1 << 20, {"a 1 1\n", "b 2 2\n"});
  CHECK(h.written_at(0) == t0);
  CHECK(h.written_at(5) == t0);
  CHECK(h.written_at(6) == t0 + 1s);
  h.mark_write(t0 + 5s);  // a batch being written: not added yet
  CHECK(h.written_at(12) == t0 + 5s);
  CHECK(h.written_at(400) == t0 + 5s);
  write_history empty(100);
  CHECK_FALSE(empty.written_at(0));
}

TEST_CASE("history: clear() after a replay starts afresh at the same byte number") {
  auto h = with_batches(1 << 20, {"a 1 1\n", "b 2 2\n"});
  h.clear();
  CHECK(h.begin() == 12);
  CHECK(h.end() == 12);
  CHECK(h.lines_from(0).empty());
  CHECK(h.first_written_since(t0) == 12);
  h.mark_write(t0 + 9s);
  h.add("c 3 3\n");
  CHECK(h.lines_from(12) == "c 3 3\n");
  CHECK(h.written_at(12) == t0 + 9s);
}

TEST_CASE("failover order: in order, passed over for hold_down, all tried when all are") {
  destination_order order(3, 2s);
  CHECK(order.first(t0) == 0);
  CHECK(order.next_after(0) == 1u);
  CHECK(order.next_after(2) == std::nullopt);
  order.failed(0, t0);
  CHECK(order.first(t0 + 1s) == 1);
  CHECK(order.first(t0 + 2s) == 0);  // hold_down over
  order.failed(1, t0 + 2s);
  order.failed(2, t0 + 2s);
  order.failed(0, t0 + 2s);
  CHECK(order.first(t0 + 3s) == 0);  // all passed over: all are tried
  CHECK(order.next_after(0) == 1u);
}

TEST_CASE("failover order: fail-back goes to the first earlier destination past its hold_down") {
  destination_order order(3, 2s);
  order.failed(0, t0);
  order.failed(1, t0 + 1s);
  CHECK(order.preferred(2, t0 + 1s) == 2);
  CHECK(order.fail_back_due(2, t0 + 1s) == t0 + 2s);
  CHECK(order.preferred(2, t0 + 2s) == 0);
  CHECK(order.preferred(0, t0 + 2s) == 0);
  CHECK_FALSE(order.fail_back_due(0, t0));
  // With one destination nothing is ever passed over.
  destination_order one(1, 2s);
  one.failed(0, t0);
  CHECK(one.first(t0) == 0);
}
