// The small pure parts around the pipeline: the decimal parser, the round
// schedule, the clock-sanity hold, the shutdown spool, the log limiter,
// listen addresses.
#include <doctest/doctest.h>

#include <filesystem>
#include <optional>
#include <string_view>

#include "sockpush/buffer/queue_record.hpp"
#include "sockpush/buffer/spool.hpp"
#include "sockpush/collect/clock_hold.hpp"
#include "sockpush/collect/round_lines.hpp"
#include "sockpush/common/config_error.hpp"
#include "sockpush/common/decimal.hpp"
#include "sockpush/common/interval_schedule.hpp"
#include "sockpush/common/log_limiter.hpp"
#include "sockpush/intake/line_validator.hpp"
#include "sockpush/intake/listen_address.hpp"
#include "support/files.hpp"

using namespace sockpush;
using namespace std::chrono_literals;
using wall = std::chrono::system_clock;

namespace {

wall::time_point at_unix_ms(long long ms) {
  return wall::time_point(std::chrono::milliseconds(ms));
}

}  // namespace

TEST_CASE("decimal: every build takes and refuses the numbers glibc's std::from_chars does") {
  // What libstdc++ 12's std::from_chars(double) answered for each, so that the
  // musl builds (fast_float) and the glibc builds keep one grammar.
  struct row {
    std::string_view text;
    std::optional<double> value;
  };
  const row rows[] = {
      {"42", 42},
      {"-0.5", -0.5},
      {"-2.5e3", -2500},
      {".5", 0.5},
      {"5.", 5},
      {"0e999", 0},
      {"-0", -0.0},
      {"1e-310", 1e-310},  // subnormal, still a number
      {"4.9e-324", 4.9e-324},
      {"1.7976931348623157e308", 1.7976931348623157e308},
      {"nan", std::nullopt},
      {"-nan", std::nullopt},
      {"inf", std::nullopt},
      {"infinity", std::nullopt},
      {"1e999", std::nullopt},     // overflow
      {"1.8e308", std::nullopt},   // overflow
      {"1e-999", std::nullopt},    // underflow: not zero, but rounds to it
      {"2.4e-324", std::nullopt},  // underflow
      {"+1", std::nullopt},
      {" 1", std::nullopt},
      {"0x10", std::nullopt},
      {"1e", std::nullopt},
      {"1_0", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& [text, value] : rows) {
    CAPTURE(text);
    CHECK(parse_finite_decimal(text) == value);
  }
}

TEST_CASE("schedule: rounds fall on multiples of the interval, whenever the process started") {
  interval_schedule s(10s, at_unix_ms(1'700'000'003'250));
  CHECK(s.due() == 1'700'000'010);
  CHECK(s.wait(at_unix_ms(1'700'000'003'250)) == 6750ms);
  CHECK(s.advance(at_unix_ms(1'700'000'010'010)) == 0);
  CHECK(s.due() == 1'700'000'020);
  CHECK(s.wait(at_unix_ms(1'700'000'010'010)) == 9990ms);
  interval_schedule fast(200ms, at_unix_ms(1'700'000'000'050));
  CHECK(fast.wait(at_unix_ms(1'700'000'000'050)) == 150ms);
}

TEST_CASE("schedule: an overrunning round skips the boundaries it missed, no burst") {
  interval_schedule s(1s, at_unix_ms(1'700'000'000'500));
  CHECK(s.due() == 1'700'000'001);
  CHECK(s.advance(at_unix_ms(1'700'000'004'200)) == 3);  // 2, 3 and 4 were missed
  CHECK(s.due() == 1'700'000'005);
}

TEST_CASE("schedule: a clock step costs one odd round, never a sleep of years") {
  interval_schedule s(10s, at_unix_ms(0));              // a router booted in 1970
  CHECK(s.wait(at_unix_ms(1'700'000'000'000)) == 0ms);  // NTP stepped the clock forward
  s.advance(at_unix_ms(1'700'000'000'000));
  CHECK(s.due() == 1'700'000'010);
  interval_schedule back(10s, at_unix_ms(1'700'000'000'000));
  CHECK(back.wait(at_unix_ms(1'600'000'000'000)) == 10s);  // stepped back: at most one interval
  CHECK(back.advance(at_unix_ms(1'600'000'000'000)) == 0);
  CHECK(back.due() == 1'600'000'010);
}

TEST_CASE("2040: after 2038, rounds are scheduled, stamped, validated and formatted") {
  // 32-bit targets (MIPS, ARMv7) build with _TIME_BITS=64: their time_t
  // would otherwise wrap in January 2038. Run under qemu by tests/run cross-*.
  static_assert(sizeof(std::time_t) == 8, "time_t must be 64-bit (_TIME_BITS=64)");
  constexpr std::int64_t in_2040 = 2'208'988'800;  // 2040-01-01T00:00:00Z
  interval_schedule s(10s, at_unix_ms(in_2040 * 1000 + 3'250));
  CHECK(s.due() == in_2040 + 10);
  CHECK(s.wait(at_unix_ms(in_2040 * 1000 + 3'250)) == 6750ms);
  std::string text;
  round_lines round(text, "r", s.due());
  round.add("tcp.states.time_wait", std::uint64_t{7});
  CHECK(text == "r.tcp.states.time_wait 7 2208988810\n");
  std::string forwarded;
  CHECK(validate_line("script.value 1.5 2208988810", in_2040, {}, forwarded) == line_verdict::ok);
  CHECK(forwarded == "script.value 1.5 2208988810\n");
  forwarded.clear();
  CHECK(validate_line("script.value 2", in_2040 + 10, {}, forwarded) == line_verdict::ok);
  CHECK(forwarded == "script.value 2 2208988810\n");  // a missing timestamp filled in with now
  clock_config cfg;
  cfg.not_before = 1'700'000'000;
  CHECK(clock_hold(cfg, 1 << 20).trusted(in_2040));
}

TEST_CASE("clock hold: rounds held while the clock is untrusted get timestamps by their age") {
  clock_config cfg;
  cfg.not_before = 1'700'000'000;
  clock_hold hold(cfg, 1 << 20);
  CHECK_FALSE(hold.trusted(86'400));  // 1970
  CHECK(hold.trusted(1'700'000'001));
  const auto t0 = std::chrono::steady_clock::time_point(100s);
  hold.hold("a.b 1 0\nc.d 2 0\n", t0);
  hold.hold("a.b 3 0\n", t0 + 10s);
  CHECK(hold.holding());
  std::string out;
  // Released 30 s after the first round, at a wall clock of 1'700'000'095.
  CHECK(hold.release(out, 1'700'000'095, t0 + 30s, 10s) == 2);
  CHECK(out == "a.b 1 1700000060\nc.d 2 1700000060\na.b 3 1700000070\n");
  CHECK_FALSE(hold.holding());
}

TEST_CASE("clock hold: bounded, the oldest rounds go first and are counted") {
  clock_hold hold(clock_config{}, 16);
  const auto t0 = std::chrono::steady_clock::time_point(100s);
  hold.hold("a.b 1 0\n", t0);
  hold.hold("a.b 2 0\n", t0 + 1s);
  hold.hold("a.b 3 0\n", t0 + 2s);
  CHECK(hold.dropped_rounds() == 1);
  std::string out;
  CHECK(hold.release(out, 1'700'000'002, t0 + 2s, 1s) == 2);
  CHECK(out == "a.b 2 1700000001\na.b 3 1700000002\n");
  CHECK(restamp_lines("x 1 5\nbroken\ny 2 6\n", 9) == "x 1 9\ny 2 9\n");
}

TEST_CASE("old spool: a spool file of sockpush 0.1 loads once") {
  test::temp_dir dir;
  const auto path = dir.path() + "/spool";
  CHECK(take_old_spool(dir.path()).empty());  // none
  test::write_file(path, "sockpush-spool 1 16 276eab89\na.b 1 1\nc.d 2 2\n");
  CHECK(crc32("123456789") == 0xCBF43926U);  // zlib's CRC-32, as that version wrote it
  CHECK(take_old_spool(dir.path()) == "a.b 1 1\nc.d 2 2\n");
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK(take_old_spool(dir.path()).empty());
  CHECK(take_old_spool("").empty());
}

TEST_CASE("old spool: a corrupt or truncated file is set aside, not loaded") {
  test::temp_dir dir;
  const auto path = dir.path() + "/spool";
  for (const std::string bad : {"sockpush-spool 1 16 276eab89\na.b 1 1\nc.d 2",      // truncated
                                "sockpush-spool 1 16 00000000\na.b 1 1\nc.d 2 2\n",  // checksum
                                "not a spool\n", "sockpush-spool 1 x y\n"}) {
    test::write_file(path, bad);
    CHECK(take_old_spool(dir.path()).empty());
    CHECK(test::read_file(path + ".corrupt") == bad);
    CHECK_FALSE(std::filesystem::exists(path));
  }
}

TEST_CASE("log limiter: a burst per window, then a count of what was held back") {
  log_limiter limit(2, 10s);
  const auto t0 = std::chrono::steady_clock::time_point(1000s);
  std::uint64_t held = 0;
  CHECK(limit.allow(held, t0));
  CHECK(limit.allow(held, t0 + 1s));
  CHECK_FALSE(limit.allow(held, t0 + 2s));
  CHECK_FALSE(limit.allow(held, t0 + 3s));
  CHECK(held == 0);
  CHECK(limit.allow(held, t0 + 10s));  // a new window
  CHECK(held == 2);
  CHECK(limit.allow(held, t0 + 11s));
  CHECK(held == 0);
}

TEST_CASE("listen addresses: tcp, udp and unix as users write them, and their errors") {
  auto tcp = parse_listen_address("tcp://127.0.0.1:2003");
  CHECK(tcp.kind == listen_address::transport::tcp);
  CHECK(tcp.port == 2003);
  auto v6 = parse_listen_address("udp://[::1]:2004");
  CHECK(v6.kind == listen_address::transport::udp);
  CHECK(v6.ip.to_string() == "::1");
  CHECK(parse_listen_address("tcp://localhost:1").ip.to_string() == "127.0.0.1");
  CHECK(parse_listen_address("unix:///run/sockpush.sock").path == "/run/sockpush.sock");
  auto error_for = [](const char* text) {
    try {
      check_listen_address(text, false);
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(error_for("ftp://x:1").find("unknown scheme 'ftp'") != std::string::npos);
  CHECK(error_for("tcp://127.0.0.1").find("missing :PORT") != std::string::npos);
  CHECK(error_for("tcp://127.0.0.1:0").find("1 to 65535") != std::string::npos);
  CHECK(error_for("tcp://[::1:2003").find("[IPv6]:PORT") != std::string::npos);
  CHECK(error_for("tcp://graphite:2003").find("IP address or localhost") != std::string::npos);
  CHECK(error_for("unix://run/x").find("absolute") != std::string::npos);
  CHECK(error_for("tcp://10.0.0.1:2003").find("allow_remote") != std::string::npos);
  CHECK_NOTHROW(check_listen_address("tcp://10.0.0.1:2003", true));
  CHECK(error_for("tcp://10.0.0.1:2003").find("'tcp://10.0.0.1:2003'") != std::string::npos);
}
