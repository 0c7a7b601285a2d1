#include <doctest/doctest.h>

#include "sockpush/config.hpp"
#include "support/process.hpp"

using namespace sockpush;
using namespace std::chrono_literals;

TEST_CASE("the documented sample config loads and matches the built-in defaults") {
  auto cfg = load_config(SOCKPUSH_SOURCE_DIR "/etc/sockpush.toml");
  config defaults;
  CHECK(cfg.carbon.address == "127.0.0.1:2003");  // the one key the sample sets on purpose
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
}

TEST_CASE("config values are read with their units") {
  auto cfg = parse_config(
      "[carbon]\naddress = \"[::1]:2004\"\nreconnect_min = 1\nreconnect_max = 2.5\n"
      "[collect]\ninterval = 0.2\nprefix = \"lab.{host}\"\n[buffer]\nmax_bytes = 65536\n",
      "test.toml");
  CHECK(cfg.carbon.address == "[::1]:2004");
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
