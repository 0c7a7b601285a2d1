#include <doctest/doctest.h>

#include "sockpush/app/config.hpp"

using namespace sockpush;
using namespace std::chrono_literals;

TEST_CASE("the documented sample config loads and matches the built-in defaults") {
  auto cfg = load_config(SOCKPUSH_SOURCE_DIR "/etc/sockpush.toml");
  config defaults;
  REQUIRE(cfg.carbon.destinations.size() == 1);  // the one key the sample sets on purpose
  CHECK(cfg.carbon.destinations.front().to_string() == "127.0.0.1:2003");
  CHECK(cfg.carbon.connect_timeout == defaults.carbon.connect_timeout);
  CHECK(cfg.carbon.reconnect_min == defaults.carbon.reconnect_min);
  CHECK(cfg.carbon.reconnect_max == defaults.carbon.reconnect_max);
  CHECK(cfg.carbon.user_timeout == defaults.carbon.user_timeout);
  CHECK(cfg.carbon.keepalive_idle == defaults.carbon.keepalive_idle);
  CHECK(cfg.carbon.keepalive_interval == defaults.carbon.keepalive_interval);
  CHECK(cfg.carbon.keepalive_count == defaults.carbon.keepalive_count);
  CHECK(cfg.interval == defaults.interval);
  CHECK(cfg.prefix == defaults.prefix);
  CHECK(cfg.buffer_max_bytes == defaults.buffer_max_bytes);
  CHECK(cfg.shutdown_timeout == defaults.shutdown_timeout);
  CHECK(cfg.log_level == defaults.log_level);
  CHECK(cfg.path_chars == defaults.path_chars);
  CHECK(cfg.listeners.empty());  // the sample's [[listen]] and [[exec]] are comments
  CHECK(cfg.exec_jobs.empty());
  CHECK(cfg.collectors.ephemeral == defaults.collectors.ephemeral);
  CHECK(cfg.collectors.ephemeral_top == defaults.collectors.ephemeral_top);
  CHECK(cfg.collectors.netstat_rates == defaults.collectors.netstat_rates);
  CHECK(cfg.collectors.conntrack_top_ports == defaults.collectors.conntrack_top_ports);
  CHECK(cfg.collectors.netstat_counters.empty());
  CHECK(cfg.clock.not_before == defaults.clock.not_before);
  CHECK(cfg.clock.require_sync == defaults.clock.require_sync);
  CHECK(cfg.carbon.send_buffer == defaults.carbon.send_buffer);
  CHECK(cfg.carbon.stall_timeout == defaults.carbon.stall_timeout);
  CHECK(cfg.carbon.replay_window == defaults.carbon.replay_window);
  CHECK(cfg.carbon.peer_close_replay == defaults.carbon.peer_close_replay);
  CHECK(cfg.log_target == defaults.log_target);
}

TEST_CASE("collectors, clock, listeners and exec jobs are read") {
  auto cfg = parse_config(R"(
[collectors]
tcp_local_ports = [22, 2003]
tcp_remote_ports = [443]
tcp_listening_ports = true
ephemeral_top = 3
netstat_counters = ["TcpExt.TW"]
netstat_rates = true
conntrack = false
[carbon]
send_buffer = 65536
stall_timeout = 5
replay_seconds = 2.5
peer_close_replay_seconds = 0
[clock]
not_before = 2024-03-01
require_sync = true
[input]
path_chars = "sanitize"
[[listen]]
address = "udp://127.0.0.1:2013"
[[exec]]
command = ["/usr/bin/probe", "-x"]
timeout = 2
)",
                          "test.toml");
  CHECK(cfg.collectors.tcp_local_ports == std::vector<std::uint16_t>{22, 2003});
  CHECK(cfg.collectors.tcp_remote_ports == std::vector<std::uint16_t>{443});
  CHECK(cfg.collectors.tcp_listening_ports);
  CHECK(cfg.collectors.ephemeral_top == 3);
  CHECK(cfg.collectors.netstat_counters == std::vector<std::string>{"TcpExt.TW"});
  CHECK(cfg.collectors.netstat_rates);
  CHECK_FALSE(cfg.collectors.conntrack);
  CHECK(cfg.clock.not_before == 1709251200);  // 2024-03-01T00:00:00Z
  CHECK(cfg.clock.require_sync);
  CHECK(cfg.carbon.send_buffer == 65536);
  CHECK(cfg.carbon.stall_timeout == 5000ms);
  CHECK(cfg.carbon.replay_window == 2500ms);
  CHECK(cfg.carbon.peer_close_replay == 0ms);
  CHECK(config{}.carbon.peer_close_replay == 2000ms);
  CHECK(cfg.path_chars == path_policy::sanitise);
  REQUIRE(cfg.listeners.size() == 1);
  CHECK(cfg.listeners[0].max_clients == 64);
  REQUIRE(cfg.exec_jobs.size() == 1);
  CHECK(cfg.exec_jobs[0].name == "probe");
  CHECK(cfg.exec_jobs[0].timeout == 2000ms);
  CHECK(config{}.clock.not_before == build_epoch());
  CHECK(build_epoch() > 1700000000);
}

TEST_CASE("config values are read with their units") {
  auto cfg = parse_config(
      "[carbon]\naddress = \"[::1]:2004\"\nreconnect_min = 1\nreconnect_max = 2.5\n"
      "[collect]\ninterval = 0.2\nprefix = \"lab.{host}\"\n[buffer]\nmax_bytes = 65536\n",
      "test.toml");
  REQUIRE(cfg.carbon.destinations.size() == 1);
  CHECK(cfg.carbon.destinations.front().where == host_port{"::1", "2004"});
  CHECK(cfg.carbon.reconnect_min == 1000ms);
  CHECK(cfg.carbon.reconnect_max == 2500ms);
  CHECK(cfg.interval == 200ms);
  CHECK(cfg.prefix == "lab.{host}");
  CHECK(cfg.buffer_max_bytes == 65536);
}

namespace {
/// The error message for `text`, which must be rejected.
std::string error_for(const std::string& text) {
  try {
    parse_config(text, "/etc/sockpush/bad.toml");
  } catch (const config_error& e) {
    return e.what();
  }
  FAIL("config was accepted: " << text);
  return {};
}
}  // namespace

TEST_CASE("config errors name the file, the line and the key") {
  auto typo = error_for("[carbon]\naddress = \"a:1\"\nconect_timeout = 3\n");
  CHECK(typo.find("/etc/sockpush/bad.toml") != std::string::npos);
  CHECK(typo.find("conect_timeout") != std::string::npos);
  CHECK(typo.find(" 3 |") != std::string::npos);  // toml11's "line | text" excerpt

  auto type = error_for("[collect]\n\ninterval = \"fast\"\n");
  CHECK(type.find("collect.interval") != std::string::npos);
  CHECK(type.find(" 3 |") != std::string::npos);

  auto range = error_for("[collect]\ninterval = -1\n");
  CHECK(range.find("collect.interval") != std::string::npos);

  auto address = error_for("[carbon]\naddress = \"graphite:99999\"\n");
  CHECK(address.find("carbon.address") != std::string::npos);
  CHECK(address.find(" 2 |") != std::string::npos);

  auto prefix = error_for("[collect]\nprefix = \"{hostname}\"\n");
  CHECK(prefix.find("unknown placeholder") != std::string::npos);

  auto level = error_for("[log]\nlevel = \"loud\"\n");
  CHECK(level.find("log.level") != std::string::npos);

  auto syntax = error_for("[carbon\naddress = 1\n");
  CHECK(syntax.find("bad.toml") != std::string::npos);

  CHECK(error_for("[buffer]\nmax_bytes = 10\n").find("buffer.max_bytes") != std::string::npos);
  CHECK(error_for("carbon = 3\n").find("[carbon] must be a table") != std::string::npos);
  CHECK(error_for("[carbon]\nreconnect_min = 5\nreconnect_max = 1\n").find("reconnect_max") !=
        std::string::npos);
  CHECK(error_for("[collectors]\ntcp_local_ports = [0]\n").find("tcp_local_ports") !=
        std::string::npos);
  CHECK(error_for("[collectors]\nnetstat_counters = [\"TW\"]\n").find("Group.Name") !=
        std::string::npos);
  CHECK(error_for("[clock]\nnot_before = \"soon\"\n").find("clock.not_before") !=
        std::string::npos);
  CHECK(error_for("[input]\npath_chars = \"fix\"\n").find("input.path_chars") != std::string::npos);
  CHECK(error_for("[[exec]]\ncommand = []\n").find("non-empty array") != std::string::npos);
  CHECK(error_for("[[exec]]\ncommand = [\"a\"]\n[[exec]]\ncommand = [\"a\"]\n")
            .find("two [[exec]] jobs") != std::string::npos);
  CHECK(error_for("[[listen]]\naddress = \"ftp://x:1\"\n").find("unknown scheme") !=
        std::string::npos);
  CHECK(error_for("[[listen]]\nmax_clients = 3\n").find("needs an address") != std::string::npos);
}

TEST_CASE("a missing config file is a clear error") {
  CHECK_THROWS_WITH_AS(load_config("/nonexistent/sockpush.toml"),
                       doctest::Contains("cannot open config file /nonexistent/sockpush.toml"),
                       config_error);
}

TEST_CASE("seconds on the command line") {
  CHECK(parse_seconds("0.2", "--interval") == 200ms);
  CHECK(parse_seconds("10", "--interval") == 10000ms);
  CHECK_THROWS_AS(parse_seconds("0", "--interval"), config_error);
  CHECK_THROWS_AS(parse_seconds("1s", "--interval"), config_error);
  CHECK_THROWS_AS(parse_seconds("nan", "--interval"), config_error);
  CHECK_THROWS_AS(parse_seconds("0.0001", "--interval"), config_error);
}

TEST_CASE("config: several carbon destinations, their mode and the move timers") {
  auto cfg = parse_config(
      "[carbon]\ndestinations = [\"127.0.0.1:2004:a\", \"127.0.0.1:2104:b\"]\n"
      "mode = \"carbon_ch\"\nhold_down = 10\nreconnect_interval = 600\n",
      "t.toml");
  CHECK(cfg.carbon.destinations.size() == 2);
  CHECK(cfg.carbon.mode == destination_mode::carbon_ch);
  CHECK(cfg.carbon.hold_down == milliseconds{10000});
  CHECK(cfg.carbon.reconnect_interval == milliseconds{600000});
  auto defaults = parse_config("[carbon]\ndestinations = [\"a:2003\", \"b:2003\"]\n", "t.toml");
  CHECK(defaults.carbon.mode == destination_mode::failover);
  CHECK(defaults.carbon.reconnect_interval == milliseconds{0});
  CHECK(parse_config("[carbon]\nreconnect_interval = 0\n", "t").carbon.reconnect_interval ==
        milliseconds{0});

  auto both = error_for("[carbon]\naddress = \"a:1\"\ndestinations = [\"b:1\"]\n");
  CHECK(both.find("both set") != std::string::npos);
  CHECK(both.find(" 3 |") != std::string::npos);
  auto empty = error_for("[carbon]\ndestinations = []\n");
  CHECK(empty.find("carbon.destinations is empty") != std::string::npos);
  auto bad = error_for("[carbon]\ndestinations = [\"a:2003\", \"b:70000\"]\n");
  CHECK(bad.find("carbon.destinations 'b:70000'") != std::string::npos);
  CHECK(bad.find(" 2 |") != std::string::npos);
  auto twice = error_for("[carbon]\ndestinations = [\"a:2003\", \"a:2003\"]\n");
  CHECK(twice.find("listed twice") != std::string::npos);
  // carbon's ring tells nodes apart by (host, instance), not by port.
  auto same_node =
      error_for("[carbon]\nmode = \"carbon_ch\"\ndestinations = [\"a:2003\", \"a:2103\"]\n");
  CHECK(same_node.find("host and instance") != std::string::npos);
  auto mode = error_for("[carbon]\nmode = \"round_robin\"\n");
  CHECK(mode.find("carbon.mode") != std::string::npos);
  auto hold = error_for("[carbon]\nhold_down = 0\n");
  CHECK(hold.find("carbon.hold_down") != std::string::npos);
}

TEST_CASE("config: [send] flush_ms for sockpush send") {
  CHECK(parse_config("", "t").send_flush == milliseconds{50});
  CHECK(parse_config("[send]\nflush_ms = 0\n", "t").send_flush == milliseconds{0});
  CHECK(parse_config("[send]\nflush_ms = 200\n", "t").send_flush == milliseconds{200});
  CHECK(error_for("[send]\nflush_ms = -5\n").find("send.flush_ms") != std::string::npos);
  CHECK(error_for("[carbon]\npeer_close_replay_seconds = -1\n")
            .find("carbon.peer_close_replay_seconds must be 0 (off) or more than 0 seconds") !=
        std::string::npos);
  CHECK(error_for("[send]\nflush = 5\n").find("unknown key 'flush'") != std::string::npos);
}

TEST_CASE("config: [carbon] tls_* settings, and what is wrong with them, by key and file") {
  const std::string source_dir = SOCKPUSH_SOURCE_DIR;
  // Off: the other keys are read but nothing is loaded.
  auto off = parse_config("[carbon]\naddress = \"a:6443\"\ntls_min_version = \"1.3\"\n", "t");
  CHECK_FALSE(off.carbon.tls.enabled);
  CHECK(off.carbon.tls.min_version == 0x0304);
  CHECK(off.carbon.tls.verify);
#if SOCKPUSH_TLS
  // The system's trust store, verification on, SNI from the destination.
  auto on = parse_config("[carbon]\naddress = \"carbon.example:6443\"\ntls = true\n", "t");
  CHECK(on.carbon.tls.enabled);
  CHECK(on.carbon.tls.ca_file.empty());
  auto insecure =
      parse_config("[carbon]\naddress = \"a:6443\"\ntls = true\ntls_verify = false\n", "t");
  CHECK_FALSE(insecure.carbon.tls.verify);

  auto missing =
      error_for("[carbon]\naddress = \"a:1\"\ntls = true\ntls_ca_file = \"/nonexistent/ca.pem\"\n");
  CHECK(missing.find("carbon.tls_ca_file '/nonexistent/ca.pem'") != std::string::npos);
  // Not PEM at all: OpenSSL's reason comes along.
  auto not_pem = error_for("[carbon]\naddress = \"a:1\"\ntls = true\ntls_ca_file = \"" +
                           source_dir + "/README.md\"\n");
  CHECK(not_pem.find("carbon.tls_ca_file") != std::string::npos);
  auto half = error_for("[carbon]\naddress = \"a:1\"\ntls = true\ntls_cert_file = \"" + source_dir +
                        "/README.md\"\n");
  CHECK(half.find("go together") != std::string::npos);
#else
  auto unbuilt = error_for("[carbon]\naddress = \"a:1\"\ntls = true\n");
  CHECK(unbuilt.find("built without TLS") != std::string::npos);
#endif
  auto version = error_for("[carbon]\naddress = \"a:1\"\ntls_min_version = \"1.1\"\n");
  CHECK(version.find("carbon.tls_min_version") != std::string::npos);
}
