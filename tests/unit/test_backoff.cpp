#include <doctest/doctest.h>

#include "sockpush/carbon/backoff.hpp"

using namespace std::chrono_literals;
using sockpush::backoff;

TEST_CASE("backoff ceiling doubles up to the cap and jitter stays below it") {
  backoff b(500ms, 30000ms, 42);
  std::chrono::milliseconds expected_ceiling[] = {500ms,   1000ms,  2000ms,  4000ms, 8000ms,
                                                  16000ms, 30000ms, 30000ms, 30000ms};
  for (auto ceiling : expected_ceiling) {
    CHECK(b.ceiling() == ceiling);
    auto d = b.next();
    CHECK(d >= 0ms);
    CHECK(d <= ceiling);
  }
  CHECK(b.attempts() == 9);
  b.reset();
  CHECK(b.ceiling() == 500ms);
}

TEST_CASE("backoff jitter is spread, not constant") {
  backoff b(1000ms, 1000ms, 7);
  std::chrono::milliseconds lo = 1000ms, hi = 0ms;
  for (int i = 0; i < 200; ++i) {
    auto d = b.next();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  CHECK(lo < 200ms);
  CHECK(hi > 800ms);
}

TEST_CASE("backoff survives many failures without overflow") {
  backoff b(1ms, 30000ms, 1);
  for (int i = 0; i < 10000; ++i) CHECK(b.next() <= 30000ms);
}
