#include "sockpush/config.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <toml.hpp>

#include "sockpush/address.hpp"
#include "sockpush/listen_address.hpp"
#include "sockpush/logging.hpp"
#include "sockpush/metric.hpp"

namespace sockpush {
namespace {

/// Wraps toml11's located message ("--> file / line | text") in our exception.
[[noreturn]] void fail_at(const toml::value& where, const std::string& what,
                          const std::string& note, std::vector<std::string> hints = {}) {
  throw config_error(toml::format_error("[error] " + what, where, note, std::move(hints)));
}

/// Rejects keys we do not know: a typo must not silently fall back to a default.
void check_keys(const toml::value& table, const std::string& section,
                std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : table.as_table()) {
    bool ok = false;
    for (auto k : known) ok = ok || k == key;
    if (ok) continue;
    std::string list;
    for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    fail_at(value,
            section.empty() ? fmt::format("unknown key '{}'", key)
                            : fmt::format("unknown key '{}' in [{}]", key, section),
            "not a sockpush setting", {"known here: " + list});
  }
}

const toml::value* find_key(const toml::value& table, const std::string& key) {
  const auto& t = table.as_table();
  auto it = t.find(key);
  return it == t.end() ? nullptr : &it->second;
}

std::string qualified(const std::string& section, const std::string& key) {
  return section + "." + key;
}

/// `zero_means_off`: only for the error message; read_seconds_or_zero()
/// has taken 0 already.
void read_seconds(const toml::value& table, const std::string& section, const std::string& key,
                  milliseconds& out, bool zero_means_off = false) {
  const auto* v = find_key(table, key);
  if (!v) return;
  double s = 0;
  if (v->is_integer()) {
    s = static_cast<double>(v->as_integer());
  } else if (v->is_floating()) {
    s = v->as_floating();
  } else {
    fail_at(*v, fmt::format("{} must be a number of seconds", qualified(section, key)),
            "expected a number like 5 or 0.5");
  }
  if (!std::isfinite(s) || s <= 0 || s > 86400.0 * 365)
    fail_at(*v,
            qualified(section, key) + (zero_means_off ? " must be 0 (off) or more than 0 seconds"
                                                      : " must be more than 0 seconds"),
            "out of range");
  out = std::chrono::duration_cast<milliseconds>(seconds_d(s));
  if (out.count() == 0)
    fail_at(*v, fmt::format("{} must be at least 0.001 seconds", qualified(section, key)),
            "too small");
}

/// Like read_seconds(), and 0 means "off".
void read_seconds_or_zero(const toml::value& table, const std::string& section,
                          const std::string& key, milliseconds& out) {
  const auto* v = find_key(table, key);
  if (!v) return;
  if ((v->is_integer() && v->as_integer() == 0) || (v->is_floating() && v->as_floating() == 0.0))
    out = milliseconds{0};
  else
    read_seconds(table, section, key, out, true);
}

void read_string(const toml::value& table, const std::string& section, const std::string& key,
                 std::string& out) {
  const auto* v = find_key(table, key);
  if (!v) return;
  if (!v->is_string())
    fail_at(*v, fmt::format("{} must be a string", qualified(section, key)), "expected \"...\"");
  out = v->as_string().str;
}

template <typename Int>
void read_integer(const toml::value& table, const std::string& section, const std::string& key,
                  Int& out, std::int64_t min, std::int64_t max) {
  const auto* v = find_key(table, key);
  if (!v) return;
  if (!v->is_integer())
    fail_at(*v, fmt::format("{} must be an integer", qualified(section, key)),
            "expected a whole number");
  auto value = v->as_integer();
  if (value < min || value > max)
    fail_at(*v, fmt::format("{} must be between {} and {}", qualified(section, key), min, max),
            "out of range");
  out = static_cast<Int>(value);
}

void read_bool(const toml::value& table, const std::string& section, const std::string& key,
               bool& out) {
  const auto* v = find_key(table, key);
  if (!v) return;
  if (!v->is_boolean())
    fail_at(*v, fmt::format("{} must be true or false", qualified(section, key)), "here");
  out = v->as_boolean();
}

/// [[name]] tables: an array of tables, each handled by `read_one`.
template <typename ReadOne>
void read_table_array(const toml::value& root, const std::string& name, ReadOne read_one) {
  const auto* v = find_key(root, name);
  if (!v) return;
  if (!v->is_array())
    fail_at(*v, fmt::format("'{}' must be written as [[{}]] tables", name, name), "here");
  for (const auto& item : v->as_array()) {
    if (!item.is_table())
      fail_at(item, fmt::format("each [[{}]] entry must be a table", name), "here");
    read_one(item);
  }
}

listen_config read_listener(const toml::value& t) {
  listen_config l;
  check_keys(t, "listen", {"address", "max_clients", "idle_timeout", "allow_remote"});
  const auto* address = find_key(t, "address");
  if (!address)
    fail_at(t, "[[listen]] needs an address", "for example address = \"tcp://127.0.0.1:2003\"");
  read_string(t, "listen", "address", l.address);
  read_integer(t, "listen", "max_clients", l.max_clients, 1, 10000);
  read_seconds(t, "listen", "idle_timeout", l.idle_timeout);
  read_bool(t, "listen", "allow_remote", l.allow_remote);
  try {
    check_listen_address(l.address, l.allow_remote);
  } catch (const config_error& e) {
    fail_at(*address, e.what(), "here");
  }
  return l;
}

exec_config read_exec_job(const toml::value& t) {
  exec_config job;
  check_keys(t, "exec", {"name", "command", "interval", "timeout", "prefix"});
  const auto* command = find_key(t, "command");
  if (!command)
    fail_at(t, "[[exec]] needs a command", "for example command = [\"/usr/bin/probe\", \"--x\"]");
  if (!command->is_array() || command->as_array().empty())
    fail_at(*command, "exec.command must be a non-empty array of strings (argv)",
            "write [\"sh\", \"-c\", \"...\"] to run a shell line");
  for (const auto& arg : command->as_array()) {
    if (!arg.is_string()) fail_at(arg, "exec.command must hold only strings", "here");
    job.command.push_back(arg.as_string().str);
  }
  if (job.command.front().empty()) fail_at(*command, "exec.command[0] is empty", "here");
  auto slash = job.command.front().rfind('/');
  job.name = job.command.front().substr(slash == std::string::npos ? 0 : slash + 1);
  read_string(t, "exec", "name", job.name);
  read_seconds(t, "exec", "interval", job.interval);
  read_seconds(t, "exec", "timeout", job.timeout);
  read_bool(t, "exec", "prefix", job.prefix);
  if (job.name.empty() || sanitize_path_component(job.name) != job.name)
    fail_at(find_key(t, "name") ? *find_key(t, "name") : *command,
            fmt::format("exec job name '{}' must be one metric path component", job.name),
            "only letters, digits, '_' and '-'", {"set name = \"...\" for this job"});
  return job;
}

template <typename Int>
void read_integer_list(const toml::value& table, const std::string& section, const std::string& key,
                       std::vector<Int>& out, std::int64_t min, std::int64_t max) {
  const auto* v = find_key(table, key);
  if (!v) return;
  if (!v->is_array())
    fail_at(*v, fmt::format("{} must be a list of integers", qualified(section, key)),
            "expected [1, 2]");
  out.clear();
  for (const auto& item : v->as_array()) {
    if (!item.is_integer() || item.as_integer() < min || item.as_integer() > max)
      fail_at(item,
              fmt::format("{} entries must be integers from {} to {}", qualified(section, key), min,
                          max),
              "here");
    out.push_back(static_cast<Int>(item.as_integer()));
  }
}

void read_string_list(const toml::value& table, const std::string& section, const std::string& key,
                      std::vector<std::string>& out) {
  const auto* v = find_key(table, key);
  if (!v) return;
  if (!v->is_array())
    fail_at(*v, fmt::format("{} must be a list of strings", qualified(section, key)),
            "expected [\"a\"]");
  out.clear();
  for (const auto& item : v->as_array()) {
    if (!item.is_string())
      fail_at(item, fmt::format("{} entries must be strings", qualified(section, key)), "here");
    out.push_back(item.as_string().str);
  }
}

void read_collectors(const toml::value& t, collectors_config& c) {
  check_keys(t, "collectors",
             {"tcp_local_ports", "tcp_remote_ports", "tcp_listening_ports", "ephemeral",
              "ephemeral_top", "udp", "sockstat", "netstat", "netstat_counters", "netstat_rates",
              "conntrack", "conntrack_top_ports", "settings"});
  read_integer_list(t, "collectors", "tcp_local_ports", c.tcp_local_ports, 1, 65535);
  read_integer_list(t, "collectors", "tcp_remote_ports", c.tcp_remote_ports, 1, 65535);
  read_bool(t, "collectors", "tcp_listening_ports", c.tcp_listening_ports);
  read_bool(t, "collectors", "ephemeral", c.ephemeral);
  read_integer(t, "collectors", "ephemeral_top", c.ephemeral_top, 0, 1000);
  read_bool(t, "collectors", "udp", c.udp);
  read_bool(t, "collectors", "sockstat", c.sockstat);
  read_bool(t, "collectors", "netstat", c.netstat);
  read_string_list(t, "collectors", "netstat_counters", c.netstat_counters);
  for (const auto& name : c.netstat_counters) {
    auto dot = name.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == name.size() ||
        sanitize_path_component(name.substr(0, dot)) != name.substr(0, dot) ||
        sanitize_path_component(name.substr(dot + 1)) != name.substr(dot + 1))
      fail_at(*find_key(t, "netstat_counters"),
              fmt::format("collectors.netstat_counters: '{}' is not Group.Name", name),
              "like \"TcpExt.TW\" or \"Tcp.ActiveOpens\"");
  }
  read_bool(t, "collectors", "netstat_rates", c.netstat_rates);
  read_bool(t, "collectors", "conntrack", c.conntrack);
  read_integer(t, "collectors", "conntrack_top_ports", c.conntrack_top_ports, 0, 1000);
  read_bool(t, "collectors", "settings", c.settings);
}

void read_clock(const toml::value& t, clock_config& c) {
  check_keys(t, "clock", {"not_before", "require_sync"});
  if (const auto* v = find_key(t, "not_before")) {
    if (v->is_local_date()) {
      const auto& d = v->as_local_date();
      std::tm tm{};
      tm.tm_year = d.year - 1900;
      tm.tm_mon = d.month;  // toml11's month is 0-based, like tm_mon
      tm.tm_mday = d.day;
      c.not_before = static_cast<std::int64_t>(::timegm(&tm));
    } else if (v->is_integer() && v->as_integer() >= 0) {
      c.not_before = v->as_integer();
    } else {
      fail_at(*v, "clock.not_before must be a date (2024-01-01) or Unix seconds", "here");
    }
  }
  read_bool(t, "clock", "require_sync", c.require_sync);
}

const toml::value* section(const toml::value& root, const std::string& name) {
  const auto* v = find_key(root, name);
  if (v && !v->is_table()) fail_at(*v, fmt::format("[{}] must be a table", name), "here");
  return v;
}

/// Checks one value that only makes sense whole; points at its place in the file.
template <typename Check>
void check_at(const toml::value* table, const std::string& key, Check check) {
  const toml::value* where = table ? find_key(*table, key) : nullptr;
  try {
    check();
  } catch (const config_error& e) {
    if (where) fail_at(*where, e.what(), "here");
    throw;
  }
}

}  // namespace

std::int64_t build_epoch() {
  return SOCKPUSH_BUILD_EPOCH;
}

milliseconds parse_seconds(std::string_view text, std::string_view what) {
  double s = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), s);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(s) || s <= 0)
    throw config_error(fmt::format("{}: '{}' is not a positive number of seconds", what, text));
  auto ms = std::chrono::duration_cast<milliseconds>(seconds_d(s));
  if (ms.count() == 0) throw config_error(fmt::format("{}: must be at least 0.001 s", what));
  return ms;
}

void validate(const config& cfg) {
  const auto& destinations = cfg.carbon.destinations;
  const char* key = destinations.size() == 1 ? "carbon.address" : "carbon.destinations";
  if (destinations.empty()) throw config_error("carbon.destinations is empty");
  if (destinations.size() > 1 || destinations.front() != "-") {
    std::vector<carbon_destination> parsed;
    for (const auto& text : destinations) {
      std::string why;
      auto d = parse_carbon_destination(text, &why);
      if (!d)
        throw config_error(
            fmt::format("{} '{}' is not HOST:PORT[:INSTANCE] or '-': {}", key, text, why));
      for (const auto& other : parsed)
        if (other.where.host == d->where.host &&
            (cfg.carbon.mode == destination_mode::carbon_ch ? other.instance == d->instance
                                                            : other.where.port == d->where.port))
          throw config_error(fmt::format(
              "{}: '{}' is listed twice{}", key, text,
              cfg.carbon.mode == destination_mode::carbon_ch
                  ? " (carbon_ch tells destinations apart by host and instance, as carbon does)"
                  : ""));
      parsed.push_back(std::move(*d));
    }
  }
  try {
    (void)expand_prefix(cfg.prefix, "host");
  } catch (const std::invalid_argument& e) {
    throw config_error(fmt::format("collect.prefix '{}': {}", cfg.prefix, e.what()));
  }
  if (cfg.carbon.reconnect_max < cfg.carbon.reconnect_min)
    throw config_error("carbon.reconnect_max must not be less than carbon.reconnect_min");
  if (!is_log_level(cfg.log_level))
    throw config_error(
        fmt::format("log.level '{}' is not one of trace, debug, info, warn, error, critical, off",
                    cfg.log_level));
}

config parse_config(std::string_view text, const std::string& origin) {
  config cfg;
  toml::value root;
  try {
    std::istringstream in{std::string(text)};
    root = toml::parse(in, origin);
  } catch (const toml::exception& e) {
    throw config_error(e.what());
  }
  check_keys(root, "",
             {"carbon", "collect", "buffer", "daemon", "log", "input", "listen", "exec",
              "collectors", "clock", "send"});
  if (const auto* collectors = section(root, "collectors"))
    read_collectors(*collectors, cfg.collectors);
  if (const auto* clock = section(root, "clock")) read_clock(*clock, cfg.clock);

  const auto* carbon = section(root, "carbon");
  if (carbon) {
    check_keys(
        *carbon, "carbon",
        {"address", "destinations", "mode", "hold_down", "reconnect_interval", "connect_timeout",
         "reconnect_min", "reconnect_max", "user_timeout", "keepalive_idle", "keepalive_interval",
         "keepalive_count", "send_buffer", "stall_timeout", "replay_seconds",
         "peer_close_replay_seconds"});
    const auto* address = find_key(*carbon, "address");
    const auto* destinations = find_key(*carbon, "destinations");
    if (address && destinations)
      fail_at(*destinations, "carbon.address and carbon.destinations are both set",
              "keep one: address for one destination, destinations for several");
    if (address) {
      cfg.carbon.destinations.assign(1, {});
      read_string(*carbon, "carbon", "address", cfg.carbon.destinations.front());
    }
    read_string_list(*carbon, "carbon", "destinations", cfg.carbon.destinations);
    if (destinations && cfg.carbon.destinations.empty())
      fail_at(*destinations, "carbon.destinations is empty", "list at least one \"host:port\"");
    if (const auto* v = find_key(*carbon, "mode")) {
      std::string mode;
      read_string(*carbon, "carbon", "mode", mode);
      if (mode == "failover")
        cfg.carbon.mode = destination_mode::failover;
      else if (mode == "carbon_ch")
        cfg.carbon.mode = destination_mode::carbon_ch;
      else
        fail_at(*v, "carbon.mode must be \"failover\" or \"carbon_ch\"", "here");
    }
    read_seconds(*carbon, "carbon", "hold_down", cfg.carbon.hold_down);
    read_seconds_or_zero(*carbon, "carbon", "reconnect_interval", cfg.carbon.reconnect_interval);
    read_seconds(*carbon, "carbon", "connect_timeout", cfg.carbon.connect_timeout);
    read_seconds(*carbon, "carbon", "reconnect_min", cfg.carbon.reconnect_min);
    read_seconds(*carbon, "carbon", "reconnect_max", cfg.carbon.reconnect_max);
    read_seconds(*carbon, "carbon", "user_timeout", cfg.carbon.user_timeout);
    read_seconds(*carbon, "carbon", "keepalive_idle", cfg.carbon.keepalive_idle);
    read_seconds(*carbon, "carbon", "keepalive_interval", cfg.carbon.keepalive_interval);
    read_integer(*carbon, "carbon", "keepalive_count", cfg.carbon.keepalive_count, 1, 127);
    read_integer(*carbon, "carbon", "send_buffer", cfg.carbon.send_buffer, 4096, 64 << 20);
    read_seconds(*carbon, "carbon", "stall_timeout", cfg.carbon.stall_timeout);
    read_seconds_or_zero(*carbon, "carbon", "replay_seconds", cfg.carbon.replay_window);
    read_seconds_or_zero(*carbon, "carbon", "peer_close_replay_seconds",
                         cfg.carbon.peer_close_replay);
  }
  const auto* collect = section(root, "collect");
  if (collect) {
    check_keys(*collect, "collect", {"interval", "prefix"});
    read_seconds(*collect, "collect", "interval", cfg.interval);
    read_string(*collect, "collect", "prefix", cfg.prefix);
  }
  const auto* buffer = section(root, "buffer");
  if (buffer) {
    check_keys(*buffer, "buffer", {"max_bytes"});
    read_integer(*buffer, "buffer", "max_bytes", cfg.buffer_max_bytes, 4096, std::int64_t{1} << 32);
  }
  const auto* daemon = section(root, "daemon");
  if (daemon) {
    check_keys(*daemon, "daemon", {"shutdown_timeout", "state_dir"});
    read_seconds(*daemon, "daemon", "shutdown_timeout", cfg.shutdown_timeout);
    read_string(*daemon, "daemon", "state_dir", cfg.state_dir);
  }
  if (const auto* send = section(root, "send")) {
    check_keys(*send, "send", {"flush_ms"});
    std::int64_t flush_ms = cfg.send_flush.count();
    read_integer(*send, "send", "flush_ms", flush_ms, 0, 10000);
    cfg.send_flush = milliseconds{flush_ms};
  }
  const auto* input = section(root, "input");
  if (input) {
    check_keys(*input, "input", {"path_chars"});
    if (const auto* v = find_key(*input, "path_chars")) {
      std::string policy;
      read_string(*input, "input", "path_chars", policy);
      if (policy == "reject")
        cfg.path_chars = path_policy::reject;
      else if (policy == "sanitise" || policy == "sanitize")
        cfg.path_chars = path_policy::sanitise;
      else
        fail_at(*v, "input.path_chars must be \"reject\" or \"sanitise\"", "here");
    }
  }
  read_table_array(root, "listen",
                   [&](const toml::value& t) { cfg.listeners.push_back(read_listener(t)); });
  read_table_array(root, "exec", [&](const toml::value& t) {
    auto job = read_exec_job(t);
    for (const auto& other : cfg.exec_jobs)
      if (other.name == job.name)
        fail_at(t, fmt::format("two [[exec]] jobs are named '{}'", job.name), "second one here",
                {"give one of them name = \"...\""});
    cfg.exec_jobs.push_back(std::move(job));
  });
  const auto* log = section(root, "log");
  if (log) {
    check_keys(*log, "log", {"level", "target"});
    read_string(*log, "log", "level", cfg.log_level);
    read_string(*log, "log", "target", cfg.log_target);
  }

  // Whole-value checks, reported at the offending key when it came from the file.
  const bool one_address = carbon && find_key(*carbon, "address");
  check_at(carbon, one_address ? "address" : "destinations", [&] {
    config only;
    only.carbon.destinations = cfg.carbon.destinations;
    only.carbon.mode = cfg.carbon.mode;
    validate(only);
  });
  check_at(collect, "prefix", [&] {
    config only;
    only.prefix = cfg.prefix;
    validate(only);
  });
  check_at(carbon, "reconnect_max", [&] {
    config only;
    only.carbon = cfg.carbon;
    validate(only);
  });
  check_at(log, "target", [&] {
    if (cfg.log_target != "stderr" && cfg.log_target != "syslog")
      throw config_error(fmt::format("log.target '{}' is not stderr or syslog", cfg.log_target));
  });
  check_at(log, "level", [&] {
    config only;
    only.log_level = cfg.log_level;
    validate(only);
  });
  return cfg;
}

config load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw config_error(fmt::format("cannot open config file {}: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw config_error(fmt::format("cannot read config file {}", path));
  return parse_config(text.str(), path);
}

}  // namespace sockpush
