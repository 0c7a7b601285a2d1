#include "sockpush/app/config.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <toml.hpp>

#include "sockpush/app/logging.hpp"
#include "sockpush/collect/remote_subnets.hpp"
#include "sockpush/common/decimal.hpp"
#include "sockpush/common/metric_path.hpp"
#include "sockpush/intake/listen_address.hpp"

namespace sockpush {
namespace {

/// Wraps toml11's located message ("--> file / line | text") in our exception.
[[noreturn]] void fail_at(const toml::value& where, const std::string& what,
                          const std::string& note, std::vector<std::string> hints = {}) {
  throw config_error(toml::format_error("[error] " + what, where, note, std::move(hints)));
}

const toml::value* find_key(const toml::value& table, const std::string& key) {
  const auto& t = table.as_table();
  auto it = t.find(key);
  return it == t.end() ? nullptr : &it->second;
}

/// Reads one value; `name` is "section.key", for messages.
using value_reader = std::function<void(const toml::value& value, const std::string& name)>;
/// The value a key holds now, as TOML writes it; nullopt where the default
/// is not a fixed value (a date of the build, another key's value).
using value_shower = std::function<std::optional<std::string>()>;

/// How one key's value is read, and shown.
struct key_io {
  value_reader read;
  value_shower show;
};

/// A key of a section: the one place a key is named.
struct key_reader {
  std::string_view key;
  key_io io;
};

/// A key whose default is described, not a value (`show` gives nullopt).
key_io without_fixed_default(key_io io) {
  io.show = [] { return std::nullopt; };
  return io;
}

/// Reads every key `table` holds with its reader. A key that has none is an
/// error listing the known ones: a typo must not silently fall back to a
/// default.
void read_section(const toml::value& table, std::string_view section,
                  const std::vector<key_reader>& keys) {
  for (const auto& [key, value] : table.as_table()) {
    const key_reader* known = nullptr;
    for (const auto& k : keys)
      if (k.key == key) known = &k;
    if (known) {
      known->io.read(value, section.empty() ? key : fmt::format("{}.{}", section, key));
      continue;
    }
    std::string list;
    for (const auto& k : keys) list += (list.empty() ? "" : ", ") + std::string(k.key);
    fail_at(value,
            section.empty() ? fmt::format("unknown key '{}'", key)
                            : fmt::format("unknown key '{}' in [{}]", key, section),
            "not a sockpush setting", {"known here: " + list});
  }
}

double number_of_seconds(const toml::value& v, const std::string& name) {
  if (v.is_integer()) return static_cast<double>(v.as_integer());
  if (v.is_floating()) return v.as_floating();
  fail_at(v, fmt::format("{} must be a number of seconds", name),
          "expected a number like 5 or 0.5");
}

std::string seconds_text(milliseconds ms) {
  return fmt::format("{}", seconds_d(ms).count());
}

/// Seconds, more than 0; with `zero_is_off`, 0 too (meaning "off").
key_io seconds(milliseconds& out, bool zero_is_off = false) {
  auto read = [&out, zero_is_off](const toml::value& v, const std::string& name) {
    const double s = number_of_seconds(v, name);
    if (zero_is_off && s == 0.0) {
      out = milliseconds{0};
      return;
    }
    if (!std::isfinite(s) || s <= 0 || s > 86400.0 * 365)
      fail_at(v,
              name + (zero_is_off ? " must be 0 (off) or more than 0 seconds"
                                  : " must be more than 0 seconds"),
              "out of range");
    out = std::chrono::duration_cast<milliseconds>(seconds_d(s));
    if (out.count() == 0)
      fail_at(v, fmt::format("{} must be at least 0.001 seconds", name), "too small");
  };
  return {read, [&out] { return std::optional(seconds_text(out)); }};
}

key_io seconds_or_off(milliseconds& out) {
  return seconds(out, true);
}

template <typename Int>
key_io integer(Int& out, std::int64_t min, std::int64_t max) {
  auto read = [&out, min, max](const toml::value& v, const std::string& name) {
    if (!v.is_integer())
      fail_at(v, fmt::format("{} must be an integer", name), "expected a whole number");
    const auto value = v.as_integer();
    if (value < min || value > max)
      fail_at(v, fmt::format("{} must be between {} and {}", name, min, max), "out of range");
    out = static_cast<Int>(value);
  };
  return {read, [&out] { return std::optional(fmt::format("{}", out)); }};
}

key_io boolean(bool& out) {
  auto read = [&out](const toml::value& v, const std::string& name) {
    if (!v.is_boolean()) fail_at(v, fmt::format("{} must be true or false", name), "here");
    out = v.as_boolean();
  };
  return {read, [&out] { return std::optional<std::string>(out ? "true" : "false"); }};
}

void read_text(std::string& out, const toml::value& v, const std::string& name) {
  if (!v.is_string()) fail_at(v, fmt::format("{} must be a string", name), "expected \"...\"");
  out = v.as_string().str;
}

std::string toml_string(std::string_view text) {
  return fmt::format("\"{}\"", text);
}

key_io text(std::string& out) {
  return {[&out](const toml::value& v, const std::string& name) { read_text(out, v, name); },
          [&out] { return std::optional(toml_string(out)); }};
}

/// One of a few words, each standing for a value of `Enum`; the first word
/// of a value is how it is shown.
template <typename Enum>
key_io choice(Enum& out, std::vector<std::pair<std::string_view, Enum>> words) {
  auto read = [&out, words](const toml::value& v, const std::string& name) {
    std::string word;
    read_text(word, v, name);
    std::string list;
    for (const auto& [w, value] : words) {
      if (w == word) {
        out = value;
        return;
      }
      list += (list.empty() ? "\"" : " or \"") + std::string(w) + "\"";
    }
    fail_at(v, fmt::format("{} must be {}", name, list), "here");
  };
  auto show = [&out, words]() -> std::optional<std::string> {
    for (const auto& [w, value] : words)
      if (value == out) return toml_string(w);
    return std::nullopt;
  };
  return {read, show};
}

const toml::array& array_of(const toml::value& v, const std::string& name, const char* what,
                            const char* example) {
  if (!v.is_array()) fail_at(v, fmt::format("{} must be a list of {}", name, what), example);
  return v.as_array();
}

template <typename Item, typename Show>
std::string list_text(const std::vector<Item>& items, Show show) {
  std::string all;
  for (const auto& item : items) all += (all.empty() ? "" : ", ") + show(item);
  return "[" + all + "]";
}

template <typename Int>
key_io integer_list(std::vector<Int>& out, std::int64_t min, std::int64_t max) {
  auto read = [&out, min, max](const toml::value& v, const std::string& name) {
    out.clear();
    for (const auto& item : array_of(v, name, "integers", "expected [1, 2]")) {
      if (!item.is_integer() || item.as_integer() < min || item.as_integer() > max)
        fail_at(item, fmt::format("{} entries must be integers from {} to {}", name, min, max),
                "here");
      out.push_back(static_cast<Int>(item.as_integer()));
    }
  };
  return {read, [&out] {
            return std::optional(list_text(out, [](Int i) { return fmt::format("{}", i); }));
          }};
}

key_io text_list(std::vector<std::string>& out) {
  auto read = [&out](const toml::value& v, const std::string& name) {
    out.clear();
    for (const auto& item : array_of(v, name, "strings", "expected [\"a\"]")) {
      if (!item.is_string()) fail_at(item, fmt::format("{} entries must be strings", name), "here");
      out.push_back(item.as_string().str);
    }
  };
  return {read, [&out] { return std::optional(list_text(out, toml_string)); }};
}

/// Runs a check of a whole value; its config_error points at `key` in
/// `table` when the value came from the file.
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

/// What is read into temporaries before it reaches the config: [carbon]
/// address or destinations (parsed once the whole section is read: the mode
/// decides what counts as listed twice), and [send] flush_ms.
struct pending_values {
  std::string address = "-";
  std::vector<std::string> destinations{};
  std::int64_t flush_ms = 0;
};

std::vector<key_reader> carbon_keys(carbon_config& c, pending_values& p) {
  return {{"address", text(p.address)},
          {"destinations", without_fixed_default(text_list(p.destinations))},
          {"mode", choice(c.mode, {{"failover", destination_mode::failover},
                                   {"carbon_ch", destination_mode::carbon_ch},
                                   {"fnv1a_ch", destination_mode::fnv1a_ch},
                                   {"jump_fnv1a_ch", destination_mode::jump_fnv1a_ch}})},
          {"replication", integer(c.replication, 1, 64)},
          {"diverse_replicas", boolean(c.diverse_replicas)},
          {"hold_down", seconds(c.hold_down)},
          {"reconnect_interval", seconds_or_off(c.reconnect_interval)},
          {"connect_timeout", seconds(c.connect_timeout)},
          {"reconnect_min", seconds(c.reconnect_min)},
          {"reconnect_max", seconds(c.reconnect_max)},
          {"user_timeout", seconds(c.user_timeout)},
          {"keepalive_idle", seconds(c.keepalive_idle)},
          {"keepalive_interval", seconds(c.keepalive_interval)},
          {"keepalive_count", integer(c.keepalive_count, 1, 127)},
          {"send_buffer", integer(c.send_buffer, 4096, 64 << 20)},
          {"stall_timeout", seconds(c.stall_timeout)},
          {"replay_seconds", seconds_or_off(c.replay_seconds)},
          {"peer_close_replay_seconds", seconds_or_off(c.peer_close_replay_seconds)},
          {"tls", boolean(c.tls.enabled)},
          {"tls_verify", boolean(c.tls.verify)},
          {"tls_ca_file", text(c.tls.ca_file)},
          {"tls_server_name", text(c.tls.server_name)},
          {"tls_cert_file", text(c.tls.cert_file)},
          {"tls_key_file", text(c.tls.key_file)},
          {"tls_min_version", choice(c.tls.min_version, {{"1.2", 0x0303}, {"1.3", 0x0304}})}};
}

/// What [carbon] decides as a whole, once all of it is read.
void finish_carbon(const toml::value& t, carbon_config& c, const pending_values& p) {
  check_at(&t, "tls", [&] { check_tls(c.tls); });
  const auto* address = find_key(t, "address");
  const auto* destinations = find_key(t, "destinations");
  if (address && destinations)
    fail_at(*destinations, "carbon.address and carbon.destinations are both set",
            "keep one: address for one destination, destinations for several");
  if (!address && !destinations) return;
  const char* key = address ? "address" : "destinations";
  const auto listed = address ? std::vector<std::string>{p.address} : p.destinations;
  check_at(&t, key, [&] {
    c.destinations = parse_destinations(listed, c.mode, fmt::format("carbon.{}", key));
  });
}

std::int64_t unix_time_of(const toml::local_date& d) {
  std::tm tm{};
  tm.tm_year = d.year - 1900;
  tm.tm_mon = d.month;  // toml11's month is 0-based, like tm_mon
  tm.tm_mday = d.day;
  return static_cast<std::int64_t>(::timegm(&tm));
}

std::vector<key_reader> clock_keys(clock_config& c) {
  auto not_before = [&c](const toml::value& v, const std::string& name) {
    if (v.is_local_date())
      c.not_before = unix_time_of(v.as_local_date());
    else if (v.is_integer() && v.as_integer() >= 0)
      c.not_before = v.as_integer();
    else
      fail_at(v, name + " must be a date (2024-01-01) or Unix seconds", "here");
  };
  // The default is the day of the build.
  return {{"not_before", {not_before, [] { return std::nullopt; }}},
          {"require_sync", boolean(c.require_sync)}};
}

bool is_counter_name(std::string_view name) {
  auto dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size()) return false;
  auto group = name.substr(0, dot), counter = name.substr(dot + 1);
  return sanitize_path_component(group) == group && sanitize_path_component(counter) == counter;
}

/// { NAME = "CIDR" or ["CIDR", ...], ... }, in name order (a TOML table
/// has none). An error in one entry points at that entry; a prefix under two
/// names, at the table.
key_io remote_subnets(std::vector<remote_subnet>& out) {
  auto read = [&out](const toml::value& v, const std::string& key) {
    if (!v.is_table())
      fail_at(v, fmt::format("{} must be a table of names and subnets", key),
              "expected { office = \"10.1.0.0/16\", vpn = [\"10.8.0.0/24\", \"fd00:8::/64\"] }");
    std::map<std::string, const toml::value*> by_name;
    for (const auto& [name, prefixes] : v.as_table()) by_name[name] = &prefixes;
    out.clear();
    for (const auto& [name, value] : by_name) {
      const auto entry = fmt::format("{}.{}", key, name);
      remote_subnet subnet{name, {}};
      if (value->is_string()) {
        subnet.prefixes.push_back(value->as_string().str);
      } else {
        for (const auto& item :
             array_of(*value, entry, "subnets", "expected \"10.1.0.0/16\" or a list of them")) {
          if (!item.is_string())
            fail_at(item, fmt::format("{} entries must be strings", entry), "here");
          subnet.prefixes.push_back(item.as_string().str);
        }
      }
      try {
        subnet_table::check(subnet);
      } catch (const std::invalid_argument& e) {
        fail_at(*value, fmt::format("{}: {}", key, e.what()), "here");
      }
      out.push_back(std::move(subnet));
    }
    try {
      subnet_table across_entries(out);
    } catch (const std::invalid_argument& e) {
      fail_at(v, fmt::format("{}: {}", key, e.what()), "here");
    }
  };
  auto show = [&out] {
    std::string all;
    for (const auto& subnet : out)
      all += fmt::format("{}{} = {}", all.empty() ? "" : ", ", subnet.name,
                         list_text(subnet.prefixes, toml_string));
    return std::optional("{" + (all.empty() ? all : " " + all + " ") + "}");
  };
  return {read, show};
}

std::vector<key_reader> collectors_keys(collectors_config& c) {
  auto counters = text_list(c.netstat_counters);
  counters.read = [&c, read = counters.read](const toml::value& v, const std::string& name) {
    read(v, name);
    for (const auto& counter : c.netstat_counters)
      if (!is_counter_name(counter))
        fail_at(v, fmt::format("{}: '{}' is not Group.Name", name, counter),
                "like \"TcpExt.TW\" or \"Tcp.ActiveOpens\"");
  };
  return {{"tcp_local_ports", integer_list(c.tcp_local_ports, 1, 65535)},
          {"tcp_remote_ports", integer_list(c.tcp_remote_ports, 1, 65535)},
          {"tcp_listening_ports", boolean(c.tcp_listening_ports)},
          {"tcp_listen_queues", boolean(c.tcp_listen_queues)},
          {"tcp_remote_subnets", remote_subnets(c.tcp_remote_subnets)},
          {"ephemeral", boolean(c.ephemeral)},
          {"ephemeral_top", integer(c.ephemeral_top, 0, 1000)},
          {"udp", boolean(c.udp)},
          {"sockstat", boolean(c.sockstat)},
          {"netstat", boolean(c.netstat)},
          {"netstat_counters", counters},
          {"netstat_rates", boolean(c.netstat_rates)},
          {"conntrack", boolean(c.conntrack)},
          {"conntrack_top_ports", integer(c.conntrack_top_ports, 0, 1000)},
          {"settings", boolean(c.settings)}};
}

std::vector<key_reader> listen_keys(listen_config& l) {
  return {{"address", without_fixed_default(text(l.address))},
          {"max_clients", integer(l.max_clients, 1, 10000)},
          {"idle_timeout", seconds(l.idle_timeout)},
          {"allow_remote", boolean(l.allow_remote)}};
}

listen_config read_listener(const toml::value& t) {
  listen_config l;
  read_section(t, "listen", listen_keys(l));
  const auto* address = find_key(t, "address");
  if (!address)
    fail_at(t, "[[listen]] needs an address", "for example address = \"tcp://127.0.0.1:2003\"");
  check_at(&t, "address", [&] { check_listen_address(l.address, l.allow_remote); });
  return l;
}

std::vector<key_reader> exec_keys(exec_config& job) {
  auto command = [&job](const toml::value& v, const std::string&) {
    if (!v.is_array() || v.as_array().empty())
      fail_at(v, "exec.command must be a non-empty array of strings (argv)",
              "write [\"sh\", \"-c\", \"...\"] to run a shell line");
    for (const auto& arg : v.as_array()) {
      if (!arg.is_string()) fail_at(arg, "exec.command must hold only strings", "here");
      job.command.push_back(arg.as_string().str);
    }
    if (job.command.front().empty()) fail_at(v, "exec.command[0] is empty", "here");
  };
  // name: the program's; interval: [collect]'s; timeout: the job's interval.
  return {{"name", without_fixed_default(text(job.name))},
          {"command", {command, [] { return std::nullopt; }}},
          {"interval", without_fixed_default(seconds(job.interval))},
          {"timeout", without_fixed_default(seconds(job.timeout))},
          {"prefix", boolean(job.prefix)}};
}

exec_config read_exec_job(const toml::value& t) {
  exec_config job;
  read_section(t, "exec", exec_keys(job));
  const auto* argv = find_key(t, "command");
  if (!argv)
    fail_at(t, "[[exec]] needs a command", "for example command = [\"/usr/bin/probe\", \"--x\"]");
  if (!find_key(t, "name"))
    job.name = job.command.front().substr(job.command.front().rfind('/') + 1);
  if (job.name.empty() || sanitize_path_component(job.name) != job.name)
    fail_at(find_key(t, "name") ? *find_key(t, "name") : *argv,
            fmt::format("exec job name '{}' must be one metric path component", job.name),
            "only letters, digits, '_' and '-'", {"set name = \"...\" for this job"});
  return job;
}

/// [[name]] tables: an array of tables, each handled by `read_one`.
template <typename ReadOne>
void read_table_array(const toml::value& v, const std::string& name, ReadOne read_one) {
  if (!v.is_array())
    fail_at(v, fmt::format("'{}' must be written as [[{}]] tables", name, name), "here");
  for (const auto& item : v.as_array()) {
    if (!item.is_table())
      fail_at(item, fmt::format("each [[{}]] entry must be a table", name), "here");
    read_one(item);
  }
}

void read_exec_jobs(const toml::value& v, std::vector<exec_config>& jobs) {
  read_table_array(v, "exec", [&](const toml::value& t) {
    auto job = read_exec_job(t);
    for (const auto& other : jobs)
      if (other.name == job.name)
        fail_at(t, fmt::format("two [[exec]] jobs are named '{}'", job.name), "second one here",
                {"give one of them name = \"...\""});
    jobs.push_back(std::move(job));
  });
}

/// One section of the file and its keys. [[listen]] and [[exec]] are
/// arrays of tables: their keys are bound to one entry, for the docs.
struct section_keys {
  std::string_view name;
  std::vector<key_reader> keys;
};

/// Every section and key of the file, bound to `cfg` (and to the values
/// read on the way in `p`, `listener`, `job`): the one list of keys, which
/// reads the file, refuses unknown keys and documents the defaults.
std::vector<section_keys> file_sections(config& cfg, pending_values& p, listen_config& listener,
                                        exec_config& job) {
  return {
      {"carbon", carbon_keys(cfg.carbon, p)},
      {"collect", {{"interval", seconds(cfg.interval)}, {"prefix", text(cfg.prefix)}}},
      {"collectors", collectors_keys(cfg.collectors)},
      {"clock", clock_keys(cfg.clock)},
      {"buffer",
       {{"max_bytes", integer(cfg.buffer_max_bytes, 4096, std::int64_t{1} << 32)},
        {"spool_dir", text(cfg.spool.directory)},
        {"spool_max_bytes", integer(cfg.spool.queue.max_bytes, 64 << 10, std::int64_t{1} << 40)},
        {"spool_segment_bytes", integer(cfg.spool.queue.segment_bytes, 4096, 256 << 20)},
        {"spool_sync_seconds", seconds(cfg.spool.queue.sync_interval)},
        {"spool_replay_bytes_per_second",
         integer(cfg.spool.replay_bytes_per_second, 1024, std::int64_t{1} << 40)},
        {"spool_on_flash", boolean(cfg.spool.on_flash)}}},
      {"daemon",
       {{"shutdown_timeout", seconds(cfg.shutdown_timeout)}, {"state_dir", text(cfg.state_dir)}}},
      {"send", {{"flush_ms", integer(p.flush_ms, 0, 10000)}}},
      {"input",
       {{"path_chars", choice(cfg.path_chars, {{"reject", path_policy::reject},
                                               {"sanitise", path_policy::sanitise},
                                               {"sanitize", path_policy::sanitise}})}}},
      {"log", {{"level", text(cfg.log_level)}, {"target", text(cfg.log_target)}}},
      {"listen", listen_keys(listener)},
      {"exec", exec_keys(job)}};
}

void read_root(const toml::value& root, config& cfg) {
  pending_values p{.flush_ms = cfg.send_flush_ms.count()};
  listen_config unused_listener;
  exec_config unused_job;
  const auto sections = file_sections(cfg, p, unused_listener, unused_job);
  std::vector<key_reader> tables;
  for (const auto& s : sections) {
    value_reader read = [&s](const toml::value& v, const std::string& name) {
      if (!v.is_table()) fail_at(v, fmt::format("[{}] must be a table", name), "here");
      read_section(v, s.name, s.keys);
    };
    if (s.name == "listen")
      read = [&cfg](const toml::value& v, const std::string&) {
        read_table_array(v, "listen",
                         [&](const toml::value& t) { cfg.listeners.push_back(read_listener(t)); });
      };
    else if (s.name == "exec")
      read = [&cfg](const toml::value& v, const std::string&) { read_exec_jobs(v, cfg.exec_jobs); };
    tables.push_back({s.name, {read, [] { return std::nullopt; }}});
  }
  read_section(root, "", tables);
  if (const auto* carbon = find_key(root, "carbon")) finish_carbon(*carbon, cfg.carbon, p);
  cfg.send_flush_ms = milliseconds{p.flush_ms};
}

void check_prefix(const std::string& prefix) {
  try {
    (void)expand_prefix(prefix, "host");
  } catch (const std::invalid_argument& e) {
    throw config_error(fmt::format("collect.prefix '{}': {}", prefix, e.what()));
  }
}

void check_reconnect_bounds(const carbon_config& carbon) {
  if (carbon.reconnect_max < carbon.reconnect_min)
    throw config_error("carbon.reconnect_max must not be less than carbon.reconnect_min");
}

void check_spool_sizes(const outage_queue_settings& queue) {
  if (queue.segment_bytes * 2 > queue.max_bytes)
    throw config_error(fmt::format(
        "[buffer] spool_segment_bytes ({}) must be at most half of spool_max_bytes ({}): the "
        "queue drops whole segments when full",
        queue.segment_bytes, queue.max_bytes));
}

void check_log_level(const std::string& level) {
  if (!is_log_level(level))
    throw config_error(fmt::format(
        "log.level '{}' is not one of trace, debug, info, warn, error, critical, off", level));
}

void check_log_target(const std::string& target) {
  if (target != "stderr" && target != "syslog")
    throw config_error(fmt::format("log.target '{}' is not stderr or syslog", target));
}

/// A check of the whole configuration (after the file, and again after the
/// flags), reported at `section.key` when that key came from the file: the
/// one that decides it, the later of a pair.
struct whole_check {
  const char* section;
  const char* key;
  void (*check)(const config&);
};

constexpr whole_check whole_checks[] = {
    {"collect", "prefix", [](const config& c) { check_prefix(c.prefix); }},
    {"carbon", "reconnect_max", [](const config& c) { check_reconnect_bounds(c.carbon); }},
    {"carbon", "replication", [](const config& c) { check_replication(c.carbon); }},
    {"log", "target", [](const config& c) { check_log_target(c.log_target); }},
    {"log", "level", [](const config& c) { check_log_level(c.log_level); }},
    {"buffer", "spool_segment_bytes", [](const config& c) { check_spool_sizes(c.spool.queue); }},
};

}  // namespace

std::vector<config_key> config_keys() {
  config cfg;
  pending_values p{.flush_ms = cfg.send_flush_ms.count()};
  listen_config listener;
  exec_config job;
  std::vector<config_key> keys;
  for (const auto& s : file_sections(cfg, p, listener, job))
    for (const auto& k : s.keys)
      keys.push_back({std::string(s.name), std::string(k.key), k.io.show()});
  return keys;
}

milliseconds parse_seconds(std::string_view text, std::string_view what) {
  auto s = parse_finite_decimal(text);
  if (!s || *s <= 0)
    throw config_error(fmt::format("{}: '{}' is not a positive number of seconds", what, text));
  auto ms = std::chrono::duration_cast<milliseconds>(seconds_d(*s));
  if (ms.count() == 0) throw config_error(fmt::format("{}: must be at least 0.001 s", what));
  return ms;
}

void validate(const config& cfg) {
  for (const auto& w : whole_checks) w.check(cfg);
}

config parse_config(std::string_view text, const std::string& origin) {
  toml::value root;
  try {
    std::istringstream in{std::string(text)};
    root = toml::parse(in, origin);
  } catch (const toml::exception& e) {
    throw config_error(e.what());
  }
  config cfg;
  read_root(root, cfg);
  for (const auto& w : whole_checks)
    check_at(find_key(root, w.section), w.key, [&] { w.check(cfg); });
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
