// The real binary, as users run it: exit codes and messages.
#include <doctest/doctest.h>

#include "support/process.hpp"

using namespace std::chrono_literals;

namespace {
struct run_result {
  int code;
  std::string out, err;
};

run_result run_sockpush(std::vector<std::string> args) {
  test::temp_dir dir;
  args.insert(args.begin(), SOCKPUSH_BINARY);
  test::child p(args, dir / "out", dir / "err");
  int code = p.wait(20000ms);
  return {code, test::read_file(dir / "out"), test::read_file(dir / "err")};
}
}  // namespace

TEST_CASE("cli: --version prints the project version") {
  auto r = run_sockpush({"--version"});
  CHECK(r.code == 0);
  CHECK(r.out == std::string("sockpush ") + SOCKPUSH_VERSION + "\n");
}

TEST_CASE("cli: --help lists the options and the send subcommand") {
  auto r = run_sockpush({"--help"});
  CHECK(r.code == 0);
  CHECK(r.out.find("--carbon") != std::string::npos);
  CHECK(r.out.find("Subcommands:\n  send [HOST [PORT]]") != std::string::npos);
  auto send = run_sockpush({"send", "--help"});
  CHECK(send.code == 0);
  CHECK(send.out.find("--timeout") != std::string::npos);
}

TEST_CASE("cli: --check-config accepts the sample and rejects a broken file with exit 2") {
  auto ok = run_sockpush({"--check-config", SOCKPUSH_SOURCE_DIR "/etc/sockpush.toml"});
  CHECK(ok.code == 0);
  CHECK(ok.out.find("OK") != std::string::npos);

  test::temp_dir dir;
  test::write_file(dir / "bad.toml", "[carbon]\naddress = \"x:1\"\n\n[collect]\nintervall = 1\n");
  auto bad = run_sockpush({"--check-config", dir / "bad.toml"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find(dir / "bad.toml") != std::string::npos);
  CHECK(bad.err.find("intervall") != std::string::npos);
  CHECK(bad.err.find(" 5 |") != std::string::npos);
}

TEST_CASE("cli: bad flags exit 2 with a message naming the flag") {
  auto unknown = run_sockpush({"--bogus"});
  CHECK(unknown.code == 2);
  CHECK(unknown.err.find("--bogus") != std::string::npos);
  auto interval = run_sockpush({"--interval", "fast", "--once", "--carbon", "-"});
  CHECK(interval.code == 2);
  CHECK(interval.err.find("--interval") != std::string::npos);
  auto carbon = run_sockpush({"--carbon", "graphite:0", "--once"});
  CHECK(carbon.code == 2);
  CHECK(carbon.err.find("carbon.address") != std::string::npos);
  auto level = run_sockpush({"--log-level", "chatty", "--once", "--carbon", "-"});
  CHECK(level.code == 2);
}

TEST_CASE("cli: --once --carbon - prints every contract metric once") {
  auto r = run_sockpush({"--once", "--carbon", "-", "--prefix", "test.{host}"});
  REQUIRE(r.code == 0);
  auto lines = test::split_lines(r.out);
  CHECK(lines.size() >= 15);
  for (const char* name :
       {"tcp.ephemeral.range_size", "tcp.ephemeral.max_used",   "udp.sockets",
        "sockstat.tcp.tw",          "netstat.TcpExt.TW",        "netstat.Tcp.ActiveOpens",
        "settings.tcp_fin_timeout", "settings.ephemeral_ports", "tcp.states.established",
        "tcp.states.syn_sent",      "tcp.states.syn_recv",      "tcp.states.fin_wait1",
        "tcp.states.fin_wait2",     "tcp.states.time_wait",     "tcp.states.close",
        "tcp.states.close_wait",    "tcp.states.last_ack",      "tcp.states.listen",
        "tcp.states.closing",       "sockpush.sent_lines",      "sockpush.dropped_lines.overflow",
        "sockpush.buffered_lines",  "sockpush.reconnects"}) {
    bool found = false;
    for (const auto& line : lines) {
      auto space = line.find(' ');
      auto path = line.substr(0, space);
      if (path.size() > std::string(name).size() &&
          path.compare(path.size() - std::string(name).size(), std::string::npos, name) == 0 &&
          path.rfind("test.", 0) == 0) {
        found = true;
        // "value timestamp": both integers, timestamp near now.
        auto rest = line.substr(space + 1);
        auto ts = std::stoll(rest.substr(rest.find(' ') + 1));
        CHECK(std::abs(ts - static_cast<long long>(time(nullptr))) < 5);
      }
    }
    CHECK_MESSAGE(found, name);
  }
}

TEST_CASE("cli: the daemon exits 1 when its stdout is closed (sockpush --carbon - | head)") {
  int code = 0;
  auto out = test::run_capture(std::string("bash -c 'timeout 10 ") + SOCKPUSH_BINARY +
                                   " --carbon - --interval 0.1 2>/dev/null | head -n 20 >/dev/null;"
                                   " echo ${PIPESTATUS[0]}'",
                               &code);
  // 124 would mean it kept running until timeout killed it.
  CHECK(out == "1\n");
}
