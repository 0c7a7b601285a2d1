#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sockpush/app/config.hpp"

using namespace sockpush;
using namespace std::chrono_literals;

TEST_CASE("the documented sample config loads and matches the built-in defaults") {
  auto cfg = load_config(SOCKPUSH_SOURCE_DIR "/etc/sockpush.toml");
  config defaults;
  REQUIRE(cfg.carbon.destinations.size() == 1);  // the one key the sample sets on purpose
  CHECK(cfg.carbon.destinations.front().to_string() == "127.0.0.1:2003");
  defaults.carbon.destinations = cfg.carbon.destinations;
  CHECK(cfg == defaults);
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
tcp_listen_queues = false
tcp_remote_subnets = { vpn = ["10.8.0.0/24", "fd00:8::/64"], office = "10.1.0.0/16" }
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
  CHECK_FALSE(cfg.collectors.tcp_listen_queues);
  CHECK(config{}.collectors.tcp_listen_queues);
  // In name order: a TOML table has none of its own.
  CHECK(cfg.collectors.tcp_remote_subnets ==
        std::vector<remote_subnet>{{"office", {"10.1.0.0/16"}},
                                   {"vpn", {"10.8.0.0/24", "fd00:8::/64"}}});
  CHECK(cfg.clock.not_before == 1709251200);  // 2024-03-01T00:00:00Z
  CHECK(cfg.clock.require_sync);
  CHECK(cfg.carbon.send_buffer == 65536);
  CHECK(cfg.carbon.stall_timeout == 5000ms);
  CHECK(cfg.carbon.replay_seconds == 2500ms);
  CHECK(cfg.carbon.peer_close_replay_seconds == 0ms);
  CHECK(config{}.carbon.peer_close_replay_seconds == 2000ms);
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
  struct row {
    std::string text;
    std::vector<std::string> says;  ///< each must be in the message
  };
  const row rows[] = {
      // toml11's "line | text" excerpt names the line.
      {"[carbon]\naddress = \"a:1\"\nconect_timeout = 3\n",
       {"/etc/sockpush/bad.toml", "conect_timeout", " 3 |"}},
      {"[collect]\n\ninterval = \"fast\"\n", {"collect.interval", " 3 |"}},
      {"[collect]\ninterval = -1\n", {"collect.interval"}},
      {"[carbon]\naddress = \"graphite:99999\"\n", {"carbon.address", " 2 |"}},
      {"[collect]\nprefix = \"{hostname}\"\n", {"unknown placeholder"}},
      {"[log]\nlevel = \"loud\"\n", {"log.level"}},
      {"[carbon\naddress = 1\n", {"bad.toml"}},
      {"[buffer]\nmax_bytes = 10\n", {"buffer.max_bytes"}},
      {"[buffer]\nspool_max_bytes = 1024\n", {"buffer.spool_max_bytes", "between"}},
      {"[buffer]\nspool_max_bytes = 1048576\nspool_segment_bytes = 1048576\n",
       {"spool_segment_bytes", "at most half of spool_max_bytes", " 3 |"}},
      {"[buffer]\nspool_on_flash = \"yes\"\n", {"buffer.spool_on_flash", "true or false"}},
      {"carbon = 3\n", {"[carbon] must be a table"}},
      {"[carbon]\nreconnect_min = 5\nreconnect_max = 1\n", {"reconnect_max"}},
      {"[collectors]\ntcp_local_ports = [0]\n", {"tcp_local_ports"}},
      {"[collectors]\nnetstat_counters = [\"TW\"]\n", {"Group.Name"}},
      {"[collectors]\ntcp_remote_subnets = { office = \"10.1.2.0/16\" }\n",
       {"collectors.tcp_remote_subnets", "subnet 'office'", "did you mean '10.1.0.0/16'", " 2 |"}},
      {"[collectors.tcp_remote_subnets]\noffice = \"10.1.0.0/16\"\n"
       "vpn = [\"10.8.0.0/24\", \"fd00::/200\"]\n",
       {"subnet 'vpn'", "'200' is not a prefix length (0 to 128)", " 3 |"}},
      {"[collectors]\ntcp_remote_subnets = { \"my office\" = \"10.1.0.0/16\" }\n",
       {"subnet name 'my office' must be one metric path component"}},
      {"[collectors]\ntcp_remote_subnets = { a = \"10.1.0.0/16\", b = \"10.1.0.0/16\" }\n",
       {"subnet 'b': '10.1.0.0/16' is also in subnet 'a'"}},
      {"[collectors]\ntcp_remote_subnets = { a = \"10.1.0.0/16\", a = \"10.2.0.0/16\" }\n",
       {"bad.toml", "a"}},
      {"[collectors]\ntcp_remote_subnets = { a = 10 }\n",
       {"collectors.tcp_remote_subnets.a", "subnets"}},
      {"[collectors]\ntcp_remote_subnets = \"10.0.0.0/8\"\n",
       {"collectors.tcp_remote_subnets must be a table"}},
      {"[clock]\nnot_before = \"soon\"\n", {"clock.not_before"}},
      {"[input]\npath_chars = \"fix\"\n", {"input.path_chars"}},
      {"[[exec]]\ncommand = []\n", {"non-empty array"}},
      {"[[exec]]\ncommand = [\"a\"]\n[[exec]]\ncommand = [\"a\"]\n", {"two [[exec]] jobs"}},
      {"[[listen]]\naddress = \"ftp://x:1\"\n", {"unknown scheme"}},
      {"[[listen]]\nmax_clients = 3\n", {"needs an address"}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    const auto message = error_for(r.text);
    for (const auto& part : r.says) CHECK_MESSAGE(message.find(part) != std::string::npos, part);
  }
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

TEST_CASE("config: carbon.replication and diverse_replicas, and what is wrong with them") {
  const std::string three = "destinations = [\"a:2003\", \"b:2003\", \"c:2003\"]\n";
  auto cfg = parse_config(
      "[carbon]\nmode = \"fnv1a_ch\"\nreplication = 2\ndiverse_replicas = false\n" + three, "t");
  CHECK(cfg.carbon.replication == 2);
  CHECK_FALSE(cfg.carbon.diverse_replicas);
  CHECK(parse_config("", "t").carbon.replication == 1);
  CHECK(parse_config("", "t").carbon.diverse_replicas);
  // replication 1 is what failover does anyway: spelling it out is fine.
  CHECK(parse_config("[carbon]\nreplication = 1\n" + three, "t").carbon.replication == 1);

  struct row {
    std::string text;
    std::vector<std::string> says;
  };
  const row rows[] = {
      {"[carbon]\nreplication = 2\n" + three,
       {"carbon.replication = 2 needs mode \"carbon_ch\"", "failover", " 2 |"}},
      {"[carbon]\nmode = \"failover\"\n" + three + "replication = 3\n",
       {"carbon.replication = 3 needs mode", " 4 |"}},
      {"[carbon]\nmode = \"carbon_ch\"\nreplication = 4\n" + three,
       {"carbon.replication = 4 is more copies than there are destinations (3)", " 3 |"}},
      {"[carbon]\nmode = \"jump_fnv1a_ch\"\nreplication = 2\n",
       {"more copies than there are destinations (0)"}},
      {"[carbon]\nmode = \"carbon_ch\"\nreplication = 0\n" + three,
       {"carbon.replication must be between 1 and 64"}},
      {"[carbon]\nmode = \"carbon_ch\"\nreplication = \"two\"\n" + three,
       {"carbon.replication must be an integer"}},
      {"[carbon]\ndiverse_replicas = \"yes\"\n", {"carbon.diverse_replicas", "true or false"}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    const auto message = error_for(r.text);
    for (const auto& part : r.says) CHECK_MESSAGE(message.find(part) != std::string::npos, part);
  }

  // --carbon replaces the destinations after the file: checked again then.
  auto fewer = parse_config("[carbon]\nmode = \"carbon_ch\"\nreplication = 3\n" + three, "t");
  fewer.carbon.destinations.pop_back();
  CHECK_THROWS_WITH_AS(validate(fewer), doctest::Contains("more copies than there are"),
                       config_error);
}

TEST_CASE("config: [send] flush_ms for sockpush send") {
  CHECK(parse_config("", "t").send_flush_ms == milliseconds{50});
  CHECK(parse_config("[send]\nflush_ms = 0\n", "t").send_flush_ms == milliseconds{0});
  CHECK(parse_config("[send]\nflush_ms = 200\n", "t").send_flush_ms == milliseconds{200});
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
