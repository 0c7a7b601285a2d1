// `sockpush send` as the drop-in for `| nc`: real bash loops, real pipes.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>

#include "support/process.hpp"

using namespace std::chrono_literals;

namespace {

std::size_t time_wait_sockets() {
  auto out = test::run_capture("ss -tan state time-wait | tail -n +2 | wc -l");
  return static_cast<std::size_t>(std::stoul(out));
}

}  // namespace

TEST_CASE("send: a bash loop piped into sockpush send at ~200 lines/s: 1 connection, every line") {
  auto why = test::enter_private_network_namespace();
  REQUIRE_MESSAGE(why.empty(), why);
  test::temp_dir dir;
  test::line_sink sink(dir / "sink");
  const int lines = 2000;
  auto script = dir / "loop.sh";
  test::write_file(script,
                   "for i in $(seq 1 " + std::to_string(lines) +
                       "); do printf 'loop.value %d %(%s)T\\n' \"$i\" -1; sleep 0.004; done | " +
                       SOCKPUSH_BINARY + " send 127.0.0.1 " + std::to_string(sink.port()) + "\n");
  auto started = std::chrono::steady_clock::now();
  test::child loop({"bash", script}, {}, dir / "err");
  // Sampled until the last line has arrived: the one TIME_WAIT that
  // sockpush's own close leaves at the very end is expected (the side that
  // closes first keeps it) and is not what this test is about.
  std::size_t max_time_wait = 0;
  while (loop.running() && test::split_lines(sink.data()).size() < lines &&
         std::chrono::steady_clock::now() - started < 60s) {
    max_time_wait = std::max(max_time_wait, time_wait_sockets());
    test::sleep_ms(200);
  }
  REQUIRE(loop.wait(5000ms) == 0);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto received = test::split_lines(sink.data());
  MESSAGE(lines << " lines in " << seconds << " s; received " << received.size() << "; connections "
                << sink.connections() << "; most TIME_WAIT seen while running " << max_time_wait);
  CHECK(sink.connections() == 1);
  CHECK(max_time_wait == 0);
  REQUIRE(received.size() == lines);
  for (int i = 0; i < lines; ++i)
    CHECK(received[static_cast<std::size_t>(i)].rfind("loop.value " + std::to_string(i + 1) + " ",
                                                      0) == 0);
  CHECK(test::read_file(dir / "err").empty());
}

TEST_CASE("send: a slow producer's lines reach the sink within 250 ms each") {
  test::temp_dir dir;
  test::line_sink sink(dir / "sink");
  std::string command =
      std::string(SOCKPUSH_BINARY) + " send 127.0.0.1:" + std::to_string(sink.port());
  FILE* producer = popen(command.c_str(), "w");
  REQUIRE(producer);
  std::chrono::milliseconds worst{0};
  for (int i = 1; i <= 10; ++i) {
    std::fprintf(producer, "slow.value %d\n", i);
    std::fflush(producer);
    auto sent = std::chrono::steady_clock::now();
    bool arrived = test::wait_until(
        [&] { return test::split_lines(sink.data()).size() == static_cast<std::size_t>(i); },
        2000ms);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - sent);
    worst = std::max(worst, took);
    CHECK(arrived);
    CHECK(took <= 250ms);
    test::sleep_ms(200);
  }
  CHECK(pclose(producer) == 0);
  MESSAGE("slowest line took " << worst.count() << " ms");
  CHECK(sink.connections() == 1);
}

TEST_CASE("send: --flush-ms holds a lone line at most that long, a burst goes out with it") {
  test::temp_dir dir;
  test::line_sink sink(dir / "sink");
  std::string command = std::string(SOCKPUSH_BINARY) +
                        " send 127.0.0.1:" + std::to_string(sink.port()) + " --flush-ms 300";
  FILE* producer = popen(command.c_str(), "w");
  REQUIRE(producer);
  // Connected first: the first line is not also waiting for connect().
  REQUIRE(test::wait_until([&] { return sink.connections() == 1; }, 5000ms));
  std::fprintf(producer, "lone.value 1\n");
  std::fflush(producer);
  auto written = std::chrono::steady_clock::now();
  REQUIRE(test::wait_until([&] { return test::split_lines(sink.data()).size() == 1; }, 3000ms));
  auto held = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - written);
  // A burst of 20 lines, 5 ms apart: they leave together, within the bound.
  written = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    std::fprintf(producer, "burst.value %d\n", i);
    std::fflush(producer);
    test::sleep_ms(5);
  }
  REQUIRE(test::wait_until([&] { return test::split_lines(sink.data()).size() == 21; }, 3000ms));
  auto burst = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - written);
  CHECK(pclose(producer) == 0);
  MESSAGE("lone line held " << held.count() << " ms, burst of 20 delivered after " << burst.count()
                            << " ms");
  CHECK(held >= 250ms);  // it waited for company...
  CHECK(held <= 600ms);  // ...but not past the bound (plus scheduling noise)
  CHECK(burst <= 700ms);
  CHECK(sink.connections() == 1);
}

TEST_CASE("send: garbage around valid lines is refused, the valid lines all arrive") {
  test::temp_dir dir;
  test::line_sink sink(dir / "sink");
  std::string input = "good.one 1 100\n";
  input += std::string("\x00\x01\xff\xfe binary 1 1\n", 16);
  input += std::string(1'000'000, 'x') + "\n";  // 1 MB line
  input += "good.two 2 200\n";
  input += "bad.value nan 1\n";
  input += "good.three 3\n";  // timestamp filled in
  input += "no newline at end 1";
  test::write_file(dir / "in", input + "\ngood.four 4 400");
  int code = 0;
  auto err = test::run_capture(std::string(SOCKPUSH_BINARY) + " send 127.0.0.1 " +
                                   std::to_string(sink.port()) + " < " + (dir / "in") + " 2>&1",
                               &code);
  CHECK(code == 0);
  auto received = test::split_lines(sink.data());
  REQUIRE(received.size() == 4);
  CHECK(received[0] == "good.one 1 100");
  CHECK(received[1] == "good.two 2 200");
  CHECK(received[2].rfind("good.three 3 ", 0) == 0);
  CHECK(received[3] == "good.four 4 400");
  CHECK(err.find("4 invalid lines were not forwarded") != std::string::npos);
}

TEST_CASE("send: exits 1 with a clear message when carbon is unreachable") {
  test::temp_dir dir;
  test::write_file(dir / "in", "a.b 1 1\n");
  int code = 0;
  // Port 9 (discard) on loopback is not listening here; 1 s to give up.
  auto err = test::run_capture(
      std::string(SOCKPUSH_BINARY) + " send 127.0.0.1 9 --timeout 1 < " + (dir / "in") + " 2>&1",
      &code);
  CHECK(code == 1);
  CHECK(err.find("could not be delivered to 127.0.0.1:9") != std::string::npos);
  CHECK(test::run_capture(std::string(SOCKPUSH_BINARY) + " send host:0 </dev/null 2>&1", &code)
            .find("1 to 65535") != std::string::npos);
  CHECK(code == 2);
}
