#include "sockpush/carbon/carbon_config.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <set>

#include "sockpush/common/config_error.hpp"
#if SOCKPUSH_TLS
#include "sockpush/carbon/tls_client.hpp"
#endif

namespace sockpush {
namespace {

/// Whether `a` and `b` are one destination in `mode`'s terms; then a note on
/// those terms (maybe empty), else nullptr.
const char* same_destination(destination_mode mode, const carbon_destination& a,
                             const carbon_destination& b) {
  switch (mode) {
    case destination_mode::carbon_ch:
      if (a.where.host == b.where.host && a.instance == b.instance)
        return " (carbon_ch tells destinations apart by host and instance, as carbon does)";
      return nullptr;
    case destination_mode::fnv1a_ch:
    case destination_mode::jump_fnv1a_ch:
      if (!a.instance.empty() && a.instance == b.instance)
        return " (an instance names one member of the ring)";
      break;
    case destination_mode::failover:
      break;
  }
  return a.where == b.where ? "" : nullptr;
}

}  // namespace

std::vector<carbon_destination> parse_destinations(const std::vector<std::string>& texts,
                                                   destination_mode mode, std::string_view key) {
  if (texts.empty()) throw config_error(fmt::format("{} is empty", key));
  std::vector<carbon_destination> parsed;
  if (texts.size() == 1 && texts.front() == "-") return parsed;
  for (const auto& text : texts) {
    std::string why;
    auto d = parse_carbon_destination(text, &why);
    if (!d)
      throw config_error(fmt::format(
          "{} '{}' is not HOST:PORT[:INSTANCE], HOST[:PORT]=INSTANCE or '-': {}", key, text, why));
    for (const auto& other : parsed)
      if (auto rule = same_destination(mode, other, *d))
        throw config_error(fmt::format("{}: '{}' is listed twice{}", key, text, rule));
    parsed.push_back(std::move(*d));
  }
  return parsed;
}

void check_tls(const tls_config& tls) {
  if (!tls.enabled) return;
#if SOCKPUSH_TLS
  if (tls.cert_file.empty() != tls.key_file.empty())
    throw config_error("carbon.tls_cert_file and carbon.tls_key_file go together");
  tls_client loads_its_files(tls);
#else
  throw config_error("carbon.tls: this sockpush was built without TLS (cmake -DSOCKPUSH_TLS=ON)");
#endif
}

void check_replication(const carbon_config& carbon) {
  if (carbon.replication <= 1) return;
  if (!places_each_metric(carbon.mode))
    throw config_error(fmt::format(
        "carbon.replication = {} needs mode \"carbon_ch\", \"fnv1a_ch\" or \"jump_fnv1a_ch\": "
        "failover sends every line to one destination",
        carbon.replication));
  if (carbon.replication > carbon.destinations.size())
    throw config_error(
        fmt::format("carbon.replication = {} is more copies than there are destinations ({})",
                    carbon.replication, carbon.destinations.size()));
}

void warn_if_fewer_hosts_than_copies(const carbon_config& carbon) {
  if (carbon.mode != destination_mode::carbon_ch || !carbon.diverse_replicas) return;
  std::set<std::string_view> hosts;
  for (const auto& d : carbon.destinations) hosts.insert(d.where.host);
  if (hosts.size() < carbon.replication)
    spdlog::warn(
        "carbon.replication = {} but the destinations are on {} hosts: with diverse_replicas "
        "(carbon's DIVERSE_REPLICAS) no host gets a second copy, so each metric is sent {} "
        "times, as carbon's relay does",
        carbon.replication, hosts.size(), hosts.size());
}

void warn_if_unverified(const tls_config& tls) {
  if (tls.enabled && !tls.verify)
    spdlog::warn(
        "TLS to carbon without certificate verification (carbon.tls_verify = false): anyone on "
        "the path can read and change what is sent");
}

}  // namespace sockpush
