// Which configured subnet a socket's peer is in ([collectors]
// tcp_remote_subnets): CIDR prefixes under names, longest prefix winning.
// Every socket of a round is looked up, so the prefixes are flattened once
// into sorted, disjoint address ranges and each lookup is a binary search,
// whatever the number of subnets or how they overlap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sockpush/collect/collect_config.hpp"

namespace sockpush {

/// One CIDR prefix, host bits zero.
struct ip_prefix {
  std::uint8_t family = 0;  ///< AF_INET or AF_INET6
  /// Network byte order; IPv4 uses the first 4 bytes.
  std::array<std::uint8_t, 16> address{};
  unsigned length = 0;
  bool operator==(const ip_prefix&) const = default;
};

/// Parses "10.1.0.0/16", "fd00:8::/64" or a bare address (/32, /128). A
/// prefix inside ::ffff:0:0/96 becomes the IPv4 prefix it maps. Throws
/// std::invalid_argument saying what is wrong (bad address, bad length,
/// host bits set, with the prefix that was probably meant).
ip_prefix parse_ip_prefix(std::string_view text);

class subnet_table {
 public:
  static constexpr std::size_t no_subnet = static_cast<std::size_t>(-1);

  /// Throws std::invalid_argument for a bad CIDR, a name that is not one
  /// Graphite path component, a name given twice, or one prefix under two
  /// names; the message names the entry.
  explicit subnet_table(const std::vector<remote_subnet>& subnets);
  subnet_table() = default;

  /// One entry's name and prefixes, on their own (the constructor checks
  /// them too): throws as the constructor does, or gives the parsed prefixes.
  static std::vector<ip_prefix> check(const remote_subnet& subnet);

  bool empty() const { return names_.empty(); }
  std::size_t size() const { return names_.size(); }
  const std::string& name(std::size_t index) const { return names_[index]; }

  /// The index of the subnet with the longest prefix holding the address,
  /// or no_subnet. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is looked
  /// up as the IPv4 address it maps.
  std::size_t find(std::uint8_t family, const std::array<std::uint8_t, 16>& address) const;

 private:
  /// An IPv6 address as an unsigned number in two 64-bit halves (32-bit
  /// CPUs have no 128-bit integer).
  struct wide {
    std::uint64_t high = 0, low = 0;
    auto operator<=>(const wide&) const = default;
  };
  /// One family's addresses cut into ranges: range i runs from starts[i]
  /// up to the next start and belongs to owners[i]; starts[0] is 0.
  template <typename Number>
  struct ranges {
    std::vector<Number> starts{Number{}};
    std::vector<std::size_t> owners{no_subnet};
    std::size_t find(Number address) const;
  };
  /// The address as a number: IPv4 in the low 32 bits.
  static wide number_of(std::uint8_t family, const std::array<std::uint8_t, 16>& address);
  struct owned_prefix {
    ip_prefix prefix;
    std::size_t owner;
    const std::string* text;  ///< as configured, for messages
  };
  /// Prefixes of one family (sorted here) to ranges, numbers held as `wide`
  /// (IPv4 in the low bits). Throws for a prefix given twice.
  ranges<wide> flatten(std::vector<owned_prefix>& prefixes, unsigned bits) const;

  std::vector<std::string> names_;
  ranges<std::uint32_t> v4_;
  ranges<wide> v6_;
};

}  // namespace sockpush
