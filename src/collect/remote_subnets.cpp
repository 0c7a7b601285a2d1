#include "sockpush/collect/remote_subnets.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "sockpush/common/metric_path.hpp"

namespace sockpush {
namespace {

constexpr std::array<std::uint8_t, 12> v4_mapped_head = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

bool is_v4_mapped(const std::array<std::uint8_t, 16>& address) {
  return std::equal(v4_mapped_head.begin(), v4_mapped_head.end(), address.begin());
}

std::string address_text(const ip_prefix& p) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(p.family, p.address.data(), text, sizeof text);
  return text;
}

/// Keeps the first `length` bits of the address; true if it changed.
bool clear_host_bits(std::array<std::uint8_t, 16>& address, unsigned length) {
  bool changed = false;
  for (unsigned byte = 0; byte < address.size(); ++byte) {
    const unsigned kept = length > byte * 8 ? std::min(8U, length - byte * 8) : 0;
    const auto mask = static_cast<std::uint8_t>(kept == 0 ? 0 : 0xFF << (8 - kept));
    changed |= (address[byte] & ~mask) != 0;
    address[byte] &= mask;
  }
  return changed;
}

std::uint64_t big_endian_64(const std::uint8_t* bytes) {
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n = (n << 8) | bytes[i];
  return n;
}

std::uint32_t ipv4_number(const std::uint8_t* bytes) {
  return static_cast<std::uint32_t>(bytes[0]) << 24 | static_cast<std::uint32_t>(bytes[1]) << 16 |
         static_cast<std::uint32_t>(bytes[2]) << 8 | bytes[3];
}

}  // namespace

ip_prefix parse_ip_prefix(std::string_view text) {
  const auto slash = text.find('/');
  const std::string address(text.substr(0, slash));
  ip_prefix p;
  if (::inet_pton(AF_INET, address.c_str(), p.address.data()) == 1)
    p.family = AF_INET;
  else if (::inet_pton(AF_INET6, address.c_str(), p.address.data()) == 1)
    p.family = AF_INET6;
  else
    throw std::invalid_argument(fmt::format("'{}' is not an IPv4 or IPv6 address", address));
  const unsigned bits = p.family == AF_INET ? 32 : 128;
  p.length = bits;
  if (slash != std::string_view::npos) {
    const auto length = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), p.length);
    if (length.empty() || ec != std::errc{} || end != length.data() + length.size() ||
        p.length > bits)
      throw std::invalid_argument(
          fmt::format("'{}' is not a prefix length (0 to {})", length, bits));
  }
  auto network = p;
  if (clear_host_bits(network.address, network.length))
    throw std::invalid_argument(fmt::format("'{}' has host bits set: did you mean '{}/{}'?", text,
                                            address_text(network), network.length));
  if (p.family == AF_INET6 && p.length >= 96 && is_v4_mapped(p.address)) {
    // ::ffff:10.1.0.0/112 is 10.1.0.0/16: mapped peers are looked up as IPv4.
    std::copy_n(p.address.begin() + 12, 4, p.address.begin());
    std::fill(p.address.begin() + 4, p.address.end(), 0);
    p.family = AF_INET;
    p.length -= 96;
  }
  return p;
}

std::vector<ip_prefix> subnet_table::check(const remote_subnet& subnet) {
  if (subnet.name.empty() || sanitize_path_component(subnet.name) != subnet.name)
    throw std::invalid_argument(fmt::format(
        "subnet name '{}' must be one metric path component (letters, digits, '_' and '-')",
        subnet.name));
  if (subnet.prefixes.empty())
    throw std::invalid_argument(fmt::format("subnet '{}' has no prefix", subnet.name));
  std::vector<ip_prefix> prefixes;
  for (const auto& text : subnet.prefixes) {
    try {
      prefixes.push_back(parse_ip_prefix(text));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("subnet '{}': {}", subnet.name, e.what()));
    }
  }
  return prefixes;
}

subnet_table::subnet_table(const std::vector<remote_subnet>& subnets) {
  std::vector<owned_prefix> v4, v6;
  for (const auto& subnet : subnets) {
    if (std::find(names_.begin(), names_.end(), subnet.name) != names_.end())
      throw std::invalid_argument(fmt::format("subnet name '{}' is given twice", subnet.name));
    const auto prefixes = check(subnet);
    for (std::size_t i = 0; i < prefixes.size(); ++i)
      (prefixes[i].family == AF_INET ? v4 : v6)
          .push_back({prefixes[i], names_.size(), &subnet.prefixes[i]});
    names_.push_back(subnet.name);
  }
  const auto v4_ranges = flatten(v4, 32);
  v4_.starts.clear();
  for (const auto& start : v4_ranges.starts)
    v4_.starts.push_back(static_cast<std::uint32_t>(start.low));
  v4_.owners = v4_ranges.owners;
  v6_ = flatten(v6, 128);
}

subnet_table::ranges<subnet_table::wide> subnet_table::flatten(std::vector<owned_prefix>& prefixes,
                                                               unsigned bits) const {
  // Two CIDR prefixes are either disjoint or one holds the other. Sorted by
  // first address, widest first, they come in the order of a walk down
  // their nesting; a stack of the prefixes holding the current address then
  // knows the longest one (its top) at every edge.
  struct span {
    wide first, last;
    std::size_t owner;
  };
  auto span_of = [bits](const owned_prefix& p) {
    auto last_address = p.prefix.address;
    for (unsigned bit = p.prefix.length; bit < bits; ++bit)
      last_address[bit / 8] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
    return span{number_of(p.prefix.family, p.prefix.address),
                number_of(p.prefix.family, last_address), p.owner};
  };
  std::sort(prefixes.begin(), prefixes.end(), [&](const owned_prefix& a, const owned_prefix& b) {
    const auto a_first = number_of(a.prefix.family, a.prefix.address);
    const auto b_first = number_of(b.prefix.family, b.prefix.address);
    return a_first != b_first ? a_first < b_first : a.prefix.length < b.prefix.length;
  });
  for (std::size_t i = 1; i < prefixes.size(); ++i)
    if (prefixes[i].prefix == prefixes[i - 1].prefix) {
      const auto& [earlier, later] =
          std::minmax(prefixes[i - 1], prefixes[i],
                      [](const auto& a, const auto& b) { return a.owner < b.owner; });
      throw std::invalid_argument(
          earlier.owner == later.owner
              ? fmt::format("subnet '{}' lists '{}' twice", names_[later.owner], *later.text)
              : fmt::format("subnet '{}': '{}' is also in subnet '{}'", names_[later.owner],
                            *later.text, names_[earlier.owner]));
    }

  ranges<wide> flat;
  // A range from `start` on belongs to `owner`; one starting at the same
  // address replaces it, and one with the owner of the range before is no range.
  auto begin_range = [&flat](wide start, std::size_t owner) {
    if (flat.starts.back() == start) {
      flat.starts.pop_back();
      flat.owners.pop_back();
    }
    if (!flat.owners.empty() && flat.owners.back() == owner) return;
    flat.starts.push_back(start);
    flat.owners.push_back(owner);
  };
  const wide top = bits == 32 ? wide{0, 0xFFFFFFFFU} : wide{~0ULL, ~0ULL};
  std::vector<span> holding;
  auto close_until = [&](const wide* next_first) {
    while (!holding.empty() && (!next_first || holding.back().last < *next_first)) {
      const auto ended = holding.back();
      holding.pop_back();
      if (ended.last == top) continue;  // nothing follows the last address
      wide after = ended.last;
      if (++after.low == 0) ++after.high;
      begin_range(after, holding.empty() ? no_subnet : holding.back().owner);
    }
  };
  for (const auto& p : prefixes) {
    const auto s = span_of(p);
    close_until(&s.first);
    begin_range(s.first, s.owner);
    holding.push_back(s);
  }
  close_until(nullptr);
  return flat;
}

template <typename Number>
std::size_t subnet_table::ranges<Number>::find(Number address) const {
  // The last start at or below the address, by halving without a branch on
  // the comparison: the peers of a table walk are in no order, so a branch
  // would be mispredicted about half the time.
  const Number* first = starts.data();
  for (std::size_t count = starts.size(); count > 1;) {
    const std::size_t half = count / 2;
    first = first[half] <= address ? first + half : first;
    count -= half;
  }
  return owners[static_cast<std::size_t>(first - starts.data())];
}

subnet_table::wide subnet_table::number_of(std::uint8_t family,
                                           const std::array<std::uint8_t, 16>& address) {
  if (family == AF_INET6) return {big_endian_64(address.data()), big_endian_64(address.data() + 8)};
  return {0, ipv4_number(address.data())};
}

std::size_t subnet_table::find(std::uint8_t family,
                               const std::array<std::uint8_t, 16>& address) const {
  if (family != AF_INET6) return v4_.find(ipv4_number(address.data()));
  if (!is_v4_mapped(address)) return v6_.find(number_of(AF_INET6, address));
  return v4_.find(ipv4_number(address.data() + 12));
}

}  // namespace sockpush
