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

subnet_table::subnet_table(const std::vector<remote_subnet>& subnets) {
  std::vector<std::pair<ip_prefix, std::size_t>> v4, v6;
  for (const auto& subnet : subnets) {
    if (subnet.name.empty() || sanitize_path_component(subnet.name) != subnet.name)
      throw std::invalid_argument(
          fmt::format("subnet name '{}' must be one metric path component (letters, digits, "
                      "'_' and '-')",
                      subnet.name));
    if (std::find(names_.begin(), names_.end(), subnet.name) != names_.end())
      throw std::invalid_argument(fmt::format("subnet name '{}' is given twice", subnet.name));
    if (subnet.prefixes.empty())
      throw std::invalid_argument(fmt::format("subnet '{}' has no prefix", subnet.name));
    for (const auto& text : subnet.prefixes) {
      ip_prefix prefix;
      try {
        prefix = parse_ip_prefix(text);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(fmt::format("subnet '{}': {}", subnet.name, e.what()));
      }
      auto& same_family = prefix.family == AF_INET ? v4 : v6;
      for (const auto& [other, owner] : same_family)
        if (other == prefix)
          throw std::invalid_argument(
              owner == names_.size()
                  ? fmt::format("subnet '{}' lists '{}' twice", subnet.name, text)
                  : fmt::format("subnet '{}': '{}' is also in subnet '{}'", subnet.name, text,
                                names_[owner]));
      same_family.emplace_back(prefix, names_.size());
    }
    names_.push_back(subnet.name);
  }
  const auto v4_ranges = flatten(v4, 32);
  v4_.starts.clear();
  for (const auto& start : v4_ranges.starts)
    v4_.starts.push_back(static_cast<std::uint32_t>(start.low));
  v4_.owners = v4_ranges.owners;
  v6_ = flatten(v6, 128);
}

subnet_table::ranges<subnet_table::wide> subnet_table::flatten(
    const std::vector<std::pair<ip_prefix, std::size_t>>& prefixes, unsigned bits) {
  // Every prefix is one range [first, last]; the ranges' edges cut the
  // address space into pieces no prefix edge crosses, and each piece belongs
  // to the longest prefix holding its first address.
  struct span {
    wide first, last;
    unsigned length;
    std::size_t owner;
  };
  std::vector<span> spans;
  std::vector<wide> edges{wide{}};
  for (const auto& [prefix, owner] : prefixes) {
    auto last_address = prefix.address;
    for (unsigned bit = prefix.length; bit < bits; ++bit)
      last_address[bit / 8] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
    span s{number_of(prefix.family, prefix.address), number_of(prefix.family, last_address),
           prefix.length, owner};
    spans.push_back(s);
    edges.push_back(s.first);
    wide after = s.last;
    if (++after.low == 0) ++after.high;
    const bool wrapped = bits == 32 ? after.low >> 32 != 0 : after == wide{};
    if (!wrapped) edges.push_back(after);
  }
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  ranges<wide> flat;
  flat.starts.clear();
  flat.owners.clear();
  for (auto edge : edges) {
    std::size_t owner = no_subnet;
    unsigned longest = 0;
    for (const auto& s : spans)
      if (s.first <= edge && edge <= s.last && (owner == no_subnet || s.length > longest)) {
        owner = s.owner;
        longest = s.length;
      }
    if (!flat.owners.empty() && flat.owners.back() == owner) continue;
    flat.starts.push_back(edge);
    flat.owners.push_back(owner);
  }
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

namespace {

std::uint32_t ipv4_number(const std::uint8_t* bytes) {
  return static_cast<std::uint32_t>(bytes[0]) << 24 | static_cast<std::uint32_t>(bytes[1]) << 16 |
         static_cast<std::uint32_t>(bytes[2]) << 8 | bytes[3];
}

}  // namespace

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
