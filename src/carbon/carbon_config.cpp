#include "sockpush/carbon/carbon_config.hpp"

#include <fmt/format.h>

#include "sockpush/common/config_error.hpp"

namespace sockpush {

std::vector<carbon_destination> parse_destinations(const std::vector<std::string>& texts,
                                                   destination_mode mode, std::string_view key) {
  if (texts.empty()) throw config_error(fmt::format("{} is empty", key));
  std::vector<carbon_destination> parsed;
  if (texts.size() == 1 && texts.front() == "-") return parsed;
  // carbon_ch tells destinations apart as carbon's ring does, by host and
  // instance; failover by where it connects.
  const bool by_instance = mode == destination_mode::carbon_ch;
  for (const auto& text : texts) {
    std::string why;
    auto d = parse_carbon_destination(text, &why);
    if (!d)
      throw config_error(
          fmt::format("{} '{}' is not HOST:PORT[:INSTANCE] or '-': {}", key, text, why));
    for (const auto& other : parsed)
      if (other.where.host == d->where.host &&
          (by_instance ? other.instance == d->instance : other.where.port == d->where.port))
        throw config_error(fmt::format(
            "{}: '{}' is listed twice{}", key, text,
            by_instance
                ? " (carbon_ch tells destinations apart by host and instance, as carbon does)"
                : ""));
    parsed.push_back(std::move(*d));
  }
  return parsed;
}

}  // namespace sockpush
