#include <doctest/doctest.h>

#include "sockpush/buffer/line_buffer.hpp"

using sockpush::line_buffer;

TEST_CASE("buffer keeps lines in order and takes whole lines") {
  line_buffer b(1024);
  b.push("a 1 1\nb 2 1\n");
  b.push("c 3 1\n");
  CHECK(b.lines() == 3);
  CHECK(b.bytes() == 18);
  std::string out;
  CHECK(b.take(out, 8) == 1);  // a second line would not fit in 8 bytes
  CHECK(out == "a 1 1\n");
  CHECK(b.take(out, 1) == 1);  // at least one line even if larger than asked
  CHECK(out == "a 1 1\nb 2 1\n");
  CHECK(b.take(out, 1000) == 1);
  CHECK(b.empty());
  CHECK(b.lines() == 0);
}

TEST_CASE("a full buffer drops the oldest whole lines and counts them") {
  line_buffer b(20);
  b.push("aaaa 1 1\n");  // 9 bytes
  b.push("bbbb 2 1\n");  // 18
  b.push("cccc 3 1\n");  // 27 > 20: drop a
  CHECK(b.dropped_lines() == 1);
  CHECK(b.lines() == 2);
  std::string out;
  b.take(out, 100);
  CHECK(out == "bbbb 2 1\ncccc 3 1\n");
}

TEST_CASE("a push larger than the cap keeps its newest lines that fit") {
  line_buffer b(20);
  b.push("old 0 1\n");
  b.push("aaaa 1 1\nbbbb 2 1\ncccc 3 1\n");
  CHECK(b.dropped_lines() == 2);  // "old" and "aaaa"
  std::string out;
  b.take(out, 100);
  CHECK(out == "bbbb 2 1\ncccc 3 1\n");
  line_buffer tiny(5);
  tiny.push("toolong 1 1\n");
  CHECK(tiny.empty());
  CHECK(tiny.dropped_lines() == 1);
}

TEST_CASE("put_back restores undelivered lines ahead of newer ones") {
  line_buffer b(1000);
  b.push("a 1 1\nb 2 1\n");
  std::string batch;
  b.take(batch, 1000);
  b.push("c 3 1\n");
  b.put_back(batch);
  CHECK(b.lines() == 3);
  std::string out;
  b.take(out, 1000);
  CHECK(out == "a 1 1\nb 2 1\nc 3 1\n");
}

TEST_CASE("put_back over the cap drops the put-back (oldest) lines first") {
  line_buffer b(12);
  b.push("a 1 1\nb 2 1\n");
  std::string batch;
  b.take(batch, 100);
  b.push("c 3 1\nd 4 1\n");
  b.put_back(batch);
  CHECK(b.dropped_lines() == 2);
  std::string out;
  b.take(out, 100);
  CHECK(out == "c 3 1\nd 4 1\n");
}

TEST_CASE("buffer memory stays bounded under a long stream and lines stay intact") {
  line_buffer b(4096);
  std::string out;
  std::uint64_t pushed = 0, taken = 0;
  for (int i = 0; i < 100000; ++i) {
    std::string line = "m" + std::to_string(i) + " " + std::to_string(i) + " 1\n";
    b.push(line);
    ++pushed;
    if (i % 7 == 0) {
      out.clear();
      taken += b.take(out, 300);
      CHECK(out.back() == '\n');
      CHECK(out.front() == 'm');
    }
    REQUIRE(b.bytes() <= 4096);
  }
  CHECK(pushed == taken + b.dropped_lines() + b.lines());
}
