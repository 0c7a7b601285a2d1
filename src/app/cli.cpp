#include "sockpush/app/cli.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

namespace sockpush {
namespace {

/// "a:2003,b:2003": several destinations, as carbon.destinations;
/// "tls://a:2003,tls://b:2003" turns on carbon.tls as well.
void apply_carbon_flag(const std::string& carbon, carbon_config& out) {
  constexpr std::string_view tls_scheme = "tls://";
  std::vector<std::string> listed;
  std::size_t over_tls = 0;
  for (std::size_t at = 0; at <= carbon.size();) {
    auto comma = std::min(carbon.find(',', at), carbon.size());
    auto one = carbon.substr(at, comma - at);
    if (one.rfind(tls_scheme, 0) == 0) {
      one.erase(0, tls_scheme.size());
      ++over_tls;
    }
    listed.push_back(one);
    at = comma + 1;
  }
  const auto key =
      listed.size() == 1 ? "--carbon (carbon.address)" : "--carbon (carbon.destinations)";
  if (over_tls != 0 && over_tls != listed.size())
    throw config_error(fmt::format("{}: either every destination is tls:// or none", key));
  out.destinations = parse_destinations(listed, out.mode, key);
  if (over_tls == 0) return;
  out.tls.enabled = true;
  check_tls(out.tls);
}

}  // namespace

cli_action parse_command_line(int argc, char** argv) {
  CLI::App app{
      "sockpush: counts socket states and pushes them to Graphite's carbon over one "
      "persistent, reconnecting TCP connection."};
  app.set_version_flag("--version", std::string("sockpush ") + SOCKPUSH_VERSION);
  app.footer(
      "Subcommands:\n"
      "  send [HOST [PORT]]          Forward Graphite lines from stdin over one connection,\n"
      "                              a drop-in for `| nc HOST PORT` (sockpush send --help)");

  std::string config_path;
  std::string check_path;
  std::string carbon;
  std::string interval;
  std::string prefix;
  std::string log_level;
  bool once = false;
  app.add_option("-c,--config", config_path, "TOML configuration file (default: built-in)");
  app.add_option("--check-config", check_path, "Validate FILE and exit (0 = valid, 2 = invalid)");
  app.add_option("--carbon", carbon,
                 "Carbon plaintext receiver HOST:PORT (several: comma-separated), or - for stdout");
  app.add_option("--interval", interval, "Seconds between collection rounds (e.g. 10, 0.5)");
  app.add_option("--prefix", prefix, "Metric path prefix template ({host} = short hostname)");
  app.add_flag("--once", once, "Collect one round, deliver it, exit 0 only if delivered");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off");

  cli_action action;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    action.what = cli_action::kind::print_and_exit;
    action.message = app.help();
    return action;
  } catch (const CLI::CallForVersion&) {
    action.what = cli_action::kind::print_and_exit;
    action.message = app.version() + "\n";
    return action;
  } catch (const CLI::ParseError& e) {
    throw config_error(fmt::format("{} (see --help)", e.what()));
  }

  if (!check_path.empty()) {
    action.what = cli_action::kind::check_config;
    action.cfg = load_config(check_path);
    action.message = check_path;
    return action;
  }
  if (!config_path.empty()) action.cfg = load_config(config_path);
  auto& cfg = action.cfg;
  if (!carbon.empty()) apply_carbon_flag(carbon, cfg.carbon);
  if (!interval.empty()) cfg.interval = parse_seconds(interval, "--interval");
  if (!prefix.empty()) cfg.prefix = prefix;
  if (!log_level.empty()) cfg.log_level = log_level;
  try {
    validate(cfg);
  } catch (const config_error& e) {
    // The value may come from a flag or the file; say which file was read.
    throw config_error(
        config_path.empty() ? e.what() : fmt::format("{} (config file {})", e.what(), config_path));
  }
  action.once = once;
  return action;
}

}  // namespace sockpush
