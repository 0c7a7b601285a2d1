// `sockpush send` as the drop-in for `| nc`: real bash loops, real pipes.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <set>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/process.hpp"

using namespace std::chrono_literals;

namespace {

std::size_t time_wait_sockets() {
  return test::lines_printed_by("ss -Htan state time-wait");
}

}  // namespace

TEST_CASE("send: a bash loop piped into sockpush send at ~200 lines/s: 1 connection, every line") {
  auto why = test::enter_private_network_namespace();
  REQUIRE_MESSAGE(why.empty(), why);
  test::temp_dir dir;
  test::line_sink sink(dir / "sink");
  const int lines = 2000;
  auto script = dir / "loop.sh";
  // The pause is bash's own `read -t` on a pipe nobody writes: no `sleep`
  // process per line, so the loop really runs at about 200 lines a second.
  test::write_file(script,
                   "exec 3<> <(:)\nfor i in $(seq 1 " + std::to_string(lines) +
                       "); do printf 'loop.value %d %(%s)T\\n' \"$i\" -1; read -t 0.004 -u 3; "
                       "done | " +
                       SOCKPUSH_BINARY + " send 127.0.0.1 " + std::to_string(sink.port()) + "\n");
  auto started = std::chrono::steady_clock::now();
  test::child loop({"bash", script}, {}, dir / "err");
  // Sampled until the last line has arrived: the one TIME_WAIT that
  // sockpush's own close leaves at the very end is expected (the side that
  // closes first keeps it) and is not what this test is about. A sample
  // counts only if the sink still lacked lines after it was taken: the
  // close comes after the sink's kernel acknowledged the last line, and
  // may come just before the sink wrote it down.
  std::size_t max_time_wait = 0;
  while (loop.running() && std::chrono::steady_clock::now() - started < 60s) {
    const auto sample = time_wait_sockets();
    if (test::split_lines(sink.data()).size() >= lines) break;
    max_time_wait = std::max(max_time_wait, sample);
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
  // Timed from the connection on: the process's own start (a quarter of a
  // second under ASan) is not a line's delay.
  REQUIRE(test::wait_until([&] { return sink.connections() == 1; }, 5000ms));
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
  // Acknowledged is not yet written to the sink's file: wait for it.
  test::wait_until([&] { return test::split_lines(sink.data()).size() >= 4; }, 5000ms);
  auto received = test::split_lines(sink.data());
  REQUIRE(received.size() == 4);
  CHECK(received[0] == "good.one 1 100");
  CHECK(received[1] == "good.two 2 200");
  CHECK(received[2].rfind("good.three 3 ", 0) == 0);
  CHECK(received[3] == "good.four 4 400");
  CHECK(err.find("4 invalid lines were not forwarded") != std::string::npos);
}

TEST_CASE("send: every build forwards and refuses the same lines, byte for byte") {
  // tests/system/data/numbers.*: the number grammar's edges (exponents,
  // subnormals, overflow and underflow, signs, timestamps). The glibc, musl
  // and sanitizer builds all run this, so what one sends, all send.
  auto why = test::enter_private_network_namespace();
  REQUIRE_MESSAGE(why.empty(), why);
  test::temp_dir dir;
  test::line_sink sink(dir / "sink");
  const std::string data = SOCKPUSH_SOURCE_DIR "/tests/system/data/";
  const auto expected = test::read_file(data + "numbers.expected");
  int code = 0;
  auto err = test::run_capture(std::string(SOCKPUSH_BINARY) + " send 127.0.0.1 " +
                                   std::to_string(sink.port()) + " < " + data + "numbers.in 2>&1",
                               &code);
  CHECK(code == 0);
  test::wait_until([&] { return sink.data().size() >= expected.size(); }, 5000ms);
  CHECK(sink.data() == expected);
  CHECK(sink.connections() == 1);
  CHECK(err.find("14 invalid lines were not forwarded (1 field_count, 1 bad_path, 10 bad_value, "
                 "2 bad_timestamp)") != std::string::npos);
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

TEST_CASE("send: a slow link that keeps acknowledging is not taken for a vanished carbon") {
  // 140 KB through a 400 kbit/s loopback: the oldest unacknowledged byte is
  // seconds old while user_timeout is 1 s, but ACKs keep coming, so the
  // connection is alive and must be kept.
  auto why = test::enter_private_network_namespace();
  REQUIRE_MESSAGE(why.empty(), why);
  int code = -1;
  auto shaped = test::run_capture(
      "ip link set lo mtu 1500 && tc qdisc add dev lo root tbf rate 400kbit burst 16kb "
      "latency 5s 2>&1",
      &code);
  REQUIRE_MESSAGE(code == 0, "cannot shape lo with tc: " << shaped);
  // Later tests in this process (a whole-binary run) share the namespace.
  struct unshape {
    ~unshape() { test::run_capture("tc qdisc del dev lo root 2>&1; ip link set lo mtu 65536"); }
  } unshape_at_exit;
  test::temp_dir dir;
  test::line_sink sink(dir / "sink");
  const int lines = 4000;
  std::string input;
  for (int i = 0; i < lines; ++i) input += "slow.link.value " + std::to_string(i) + " 1700000000\n";
  test::write_file(dir / "input", input);
  test::write_file(dir / "sockpush.toml", "[carbon]\nuser_timeout = 1\n");
  const auto started = std::chrono::steady_clock::now();
  auto err = test::run_capture(std::string(SOCKPUSH_BINARY) + " send -c " + dir / "sockpush.toml" +
                                   " --log-level info 127.0.0.1 " + std::to_string(sink.port()) +
                                   " < " + dir / "input" + " 2>&1",
                               &code);
  const auto took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  REQUIRE(test::wait_until(
      [&] { return test::split_lines(sink.data()).size() >= static_cast<std::size_t>(lines); },
      10000ms));
  MESSAGE(input.size() << " bytes took " << took << " s; connections " << sink.connections());
  INFO(err);
  CHECK(code == 0);
  CHECK(took > 1.5);  // the shaping worked: the data outlived user_timeout
  CHECK(sink.connections() == 1);
  CHECK(test::split_lines(sink.data()).size() == static_cast<std::size_t>(lines));
  CHECK(err.find("never acknowledged") == std::string::npos);
}

TEST_CASE(
    "send: carbon lost while the last lines wait for their ACKs: they go on a new connection") {
  // The input ends and everything is written; sockpush waits for the
  // acknowledgements, but carbon's host has gone silent. user_timeout ends
  // that connection; the lines go again once carbon answers, within
  // --timeout.
  auto why = test::enter_private_network_namespace();
  REQUIRE_MESSAGE(why.empty(), why);
  test::temp_dir dir;
  test::line_sink sink(dir / "sink");
  const auto fifo = dir / "input";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  test::write_file(dir / "sockpush.toml",
                   "[carbon]\nuser_timeout = 1\nconnect_timeout = 0.5\nreconnect_min = 0.2\n"
                   "reconnect_max = 0.5\n");
  test::child send({"sh", "-c",
                    std::string(SOCKPUSH_BINARY) + " send -c " + dir / "sockpush.toml" +
                        " --log-level info --timeout 10 127.0.0.1 " + std::to_string(sink.port()) +
                        " < " + fifo},
                   {}, dir / "err");
  int input = -1;
  // O_NONBLOCK: fails with ENXIO until the shell has opened the reading end.
  REQUIRE(test::wait_until(
      [&] { return (input = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK)) >= 0; }, 5000ms));
  auto lines_of = [](const std::string& name) {
    std::string text;
    for (int i = 0; i < 100; ++i) text += name + " " + std::to_string(i) + " 1700000000\n";
    return text;
  };
  auto write_input = [&](const std::string& text) {
    REQUIRE(::write(input, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  };
  write_input(lines_of("before.silence"));
  REQUIRE(test::wait_until([&] { return test::split_lines(sink.data()).size() >= 100; }, 5000ms));
  test::packet_blackhole blackhole(sink.port());
  write_input(lines_of("into.silence"));
  ::close(input);  // end of input: the last lines are written, then awaited
  test::sleep_ms(2500);
  const bool waited = send.running();
  blackhole.lift();
  const auto code = send.wait(15000ms);
  auto err = test::read_file(dir / "err");
  INFO(err);
  std::set<std::string> received;
  for (const auto& line : test::split_lines(sink.data())) received.insert(line);
  MESSAGE(received.size() << " distinct lines of 200 at the sink over " << sink.connections()
                          << " connections");
  CHECK(waited);  // gave neither up nor exited while carbon was silent
  CHECK(code == 0);
  CHECK(received.size() == 200);
  CHECK(err.find("never acknowledged") != std::string::npos);
  CHECK(err.find("re-sending") != std::string::npos);
}

namespace {

/// `sockpush send` reading an endless stream of valid lines, as its own
/// process (the child's pid is sockpush's, for signals).
test::child endless_send(const test::temp_dir& dir, unsigned port, const std::string& timeout) {
  return test::child(
      {"bash", "-c",
       "exec " +
           test::shell_line({SOCKPUSH_BINARY, "send", test::loopback(port), "--timeout", timeout}) +
           " < <(yes 'stuck.value 1 1700000000')"},
      {}, dir / "err");
}

struct send_end {
  int code;
  std::chrono::duration<double> took;  ///< from the moment given to the exit
  std::string err;
};

send_end wait_for_end(test::child& send, const test::temp_dir& dir,
                      std::chrono::steady_clock::time_point since) {
  const int code = send.wait(15000ms);
  return {code, std::chrono::steady_clock::now() - since, test::read_file(dir / "err")};
}

}  // namespace

TEST_CASE("send: a carbon that accepts and never reads: exit 1 once nothing moved for --timeout") {
  test::temp_dir dir;
  test::line_sink stalled(dir / "stalled", 0, true);
  auto send = endless_send(dir, stalled.port(), "2");
  REQUIRE(test::wait_until([&] { return stalled.connections() == 1; }, 5000ms));
  const auto end = wait_for_end(send, dir, std::chrono::steady_clock::now());
  MESSAGE("exit " << end.code << " after " << end.took.count() << " s: " << end.err);
  CHECK(end.code == 1);
  // The kernel's buffers fill first (a second or so), then 2 s of nothing.
  CHECK(end.took < 6s);
  CHECK(end.err.find("lines could not be delivered") != std::string::npos);
  CHECK(end.err.find("nothing could be written for 2 s (--timeout)") != std::string::npos);
}

TEST_CASE(
    "send: SIGINT to a send stuck on carbon ends the input, a second SIGINT ends it at once") {
  test::temp_dir dir;
  test::line_sink stalled(dir / "stalled", 0, true);
  auto send = endless_send(dir, stalled.port(), "30");
  REQUIRE(test::wait_until([&] { return stalled.connections() == 1; }, 5000ms));
  test::sleep_ms(1500);  // the kernel's buffers are full, the write blocked
  send.signal(SIGINT);
  test::sleep_ms(500);
  CHECK(send.running());  // the rest still has --timeout to go out
  const auto second = std::chrono::steady_clock::now();
  send.signal(SIGINT);
  const auto end = wait_for_end(send, dir, second);
  MESSAGE("exit " << end.code << " " << end.took.count()
                  << " s after the second SIGINT: " << end.err);
  CHECK(end.code == 1);
  CHECK(end.took < 1s);
  CHECK(end.err.find("lines could not be delivered") != std::string::npos);
  CHECK(end.err.find("interrupted") != std::string::npos);
}
