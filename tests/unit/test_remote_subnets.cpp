// CIDR prefixes and the longest-prefix lookup behind tcp.remote_subnet.*.
// Addresses are built with inet_pton (network byte order), so the same
// tables check the byte order on little- and big-endian CPUs (the MIPS
// build runs them under qemu).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <random>
#include <stdexcept>
#include <string>

#include "sockpush/collect/remote_subnets.hpp"

using namespace sockpush;

namespace {

struct address {
  std::uint8_t family = 0;
  std::array<std::uint8_t, 16> bytes{};
};

address parse_address(const char* text) {
  address a;
  a.family = ::inet_pton(AF_INET, text, a.bytes.data()) == 1 ? AF_INET : AF_INET6;
  if (a.family == AF_INET6) REQUIRE(::inet_pton(AF_INET6, text, a.bytes.data()) == 1);
  return a;
}

/// The subnet's name, or "-" for none.
std::string lookup(const subnet_table& table, const char* text) {
  const auto a = parse_address(text);
  const auto found = table.find(a.family, a.bytes);
  return found == subnet_table::no_subnet ? "-" : table.name(found);
}

std::string error_of(const std::vector<remote_subnet>& subnets) {
  try {
    subnet_table table(subnets);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "accepted";
}

/// The prefix of `length` bits of `address`, added both as a subnet of its
/// own (named `name`, written as CIDR text) and to the oracle's list.
void add_prefix(std::vector<remote_subnet>& subnets,
                std::vector<std::pair<ip_prefix, std::size_t>>& prefixes, const std::string& name,
                std::uint8_t family, std::array<std::uint8_t, 16> address, unsigned length) {
  const unsigned bits = family == AF_INET ? 32 : 128;
  for (unsigned bit = length; bit < bits; ++bit)
    address[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
  char text[INET6_ADDRSTRLEN];
  ::inet_ntop(family, address.data(), text, sizeof text);
  subnets.push_back({name, {std::string(text) + "/" + std::to_string(length)}});
  prefixes.emplace_back(ip_prefix{family, address, length}, subnets.size() - 1);
}

/// The slow, obvious rule the table must agree with: of every prefix whose
/// first `length` bits equal the address's, the longest.
std::size_t longest_match(const std::vector<std::pair<ip_prefix, std::size_t>>& prefixes,
                          std::uint8_t family, const std::array<std::uint8_t, 16>& bytes) {
  std::size_t owner = subnet_table::no_subnet;
  int longest = -1;
  for (const auto& [p, index] : prefixes) {
    if (p.family != family) continue;
    bool inside = true;
    for (unsigned bit = 0; bit < p.length && inside; ++bit) {
      const auto mask = static_cast<std::uint8_t>(0x80 >> (bit % 8));
      inside = (p.address[bit / 8] & mask) == (bytes[bit / 8] & mask);
    }
    if (inside && static_cast<int>(p.length) > longest) {
      owner = index;
      longest = static_cast<int>(p.length);
    }
  }
  return owner;
}

}  // namespace

TEST_CASE("CIDR prefixes: IPv4, IPv6, bare addresses, mapped IPv4, and what is wrong") {
  struct good {
    const char* text;
    std::uint8_t family;
    const char* address;
    unsigned length;
  };
  for (const auto& row : std::initializer_list<good>{
           {"10.1.0.0/16", AF_INET, "10.1.0.0", 16},
           {"0.0.0.0/0", AF_INET, "0.0.0.0", 0},
           {"192.0.2.7/32", AF_INET, "192.0.2.7", 32},
           {"192.0.2.7", AF_INET, "192.0.2.7", 32},
           {"fd00:8::/64", AF_INET6, "fd00:8::", 64},
           {"::/0", AF_INET6, "::", 0},
           {"2001:db8::1/128", AF_INET6, "2001:db8::1", 128},
           {"2001:db8::1", AF_INET6, "2001:db8::1", 128},
           {"::ffff:10.1.0.0/112", AF_INET, "10.1.0.0", 16},
           {"::ffff:0:0/96", AF_INET, "0.0.0.0", 0},
       }) {
    INFO(std::string(row.text));
    const auto p = parse_ip_prefix(row.text);
    CHECK(p.family == row.family);
    CHECK(p.address == parse_address(row.address).bytes);
    CHECK(p.length == row.length);
  }
  struct bad {
    const char* text;
    const char* says;
  };
  for (const auto& row : std::initializer_list<bad>{
           {"10.1.0.0/33", "not a prefix length (0 to 32)"},
           {"fd00::/129", "not a prefix length (0 to 128)"},
           {"10.1.0.0/", "not a prefix length"},
           {"10.1.0.0/1x", "not a prefix length"},
           {"10.1.0.0/-1", "not a prefix length"},
           {"10.1.0/16", "not an IPv4 or IPv6 address"},
           {"office", "not an IPv4 or IPv6 address"},
           {"", "not an IPv4 or IPv6 address"},
           {"10.1.2.3/16", "did you mean '10.1.0.0/16'"},
           {"fd00:8::1/64", "did you mean 'fd00:8::/64'"},
       }) {
    INFO(std::string(row.text));
    std::string message = "accepted";
    try {
      parse_ip_prefix(row.text);
    } catch (const std::invalid_argument& e) {
      message = e.what();
    }
    CHECK_MESSAGE(message.find(row.says) != std::string::npos, message);
  }
}

TEST_CASE("subnets: the longest prefix wins, IPv4-mapped peers count as IPv4, edges included") {
  const subnet_table table({{"everything4", {"0.0.0.0/0"}},
                            {"ten", {"10.0.0.0/8"}},
                            {"office", {"10.1.0.0/16"}},
                            {"lab", {"10.1.2.0/24", "fd00:8:0:2::/64"}},
                            {"host", {"10.1.2.3/32", "fd00:8::7/128"}},
                            {"vpn", {"fd00:8::/48"}},
                            {"top", {"255.255.255.255/32", "ffff:ffff:ffff:ffff::/64"}}});
  struct row {
    const char* peer;
    const char* subnet;
  };
  for (const auto& r : std::initializer_list<row>{
           {"10.1.2.3", "host"},
           {"10.1.2.2", "lab"},
           {"10.1.2.4", "lab"},
           {"10.1.2.0", "lab"},
           {"10.1.2.255", "lab"},
           {"10.1.3.0", "office"},
           {"10.1.1.255", "office"},
           {"10.1.255.255", "office"},
           {"10.2.0.0", "ten"},
           {"10.0.255.255", "ten"},
           {"9.255.255.255", "everything4"},
           {"11.0.0.0", "everything4"},
           {"0.0.0.0", "everything4"},
           {"255.255.255.254", "everything4"},
           {"255.255.255.255", "top"},
           {"::ffff:10.1.2.3", "host"},
           {"::ffff:10.1.9.9", "office"},
           {"::ffff:192.0.2.1", "everything4"},
           {"fd00:8::7", "host"},
           {"fd00:8::8", "vpn"},
           {"fd00:8:0:2::1", "lab"},
           {"fd00:8:0:2:ffff:ffff:ffff:ffff", "lab"},
           {"fd00:8:0:3::", "vpn"},
           {"fd00:8:0:ffff:ffff:ffff:ffff:ffff", "vpn"},
           {"fd00:8:1::", "-"},
           {"fd00:9::", "-"},
           {"fd00:7:ffff:ffff:ffff:ffff:ffff:ffff", "-"},
           {"::", "-"},
           {"::1", "-"},
           {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "top"},
           {"ffff:ffff:ffff:fffe:ffff:ffff:ffff:ffff", "-"},
       }) {
    CHECK_MESSAGE(lookup(table, r.peer) == r.subnet, std::string(r.peer));
  }

  // ::/0 holds every IPv6 peer but no IPv4 one, mapped or not.
  const subnet_table six(std::vector<remote_subnet>{{"all6", {"::/0"}}});
  CHECK(lookup(six, "2001:db8::1") == "all6");
  CHECK(lookup(six, "::") == "all6");
  CHECK(lookup(six, "10.1.2.3") == "-");
  CHECK(lookup(six, "::ffff:10.1.2.3") == "-");
  const subnet_table none(std::vector<remote_subnet>{});
  CHECK(none.empty());
  CHECK(lookup(none, "10.1.2.3") == "-");
  CHECK(lookup(none, "fd00::1") == "-");
}

TEST_CASE("subnets: 20,000 random peers land where the obvious rule puts them") {
  // Nested and neighbouring prefixes of every length, so that ranges split,
  // touch and end at the top of the address space.
  std::vector<remote_subnet> subnets;
  std::vector<std::pair<ip_prefix, std::size_t>> prefixes;
  std::mt19937 random(2612);
  for (unsigned length = 0; length <= 128; length += 4) {
    std::array<std::uint8_t, 16> base{0xfd, 0x00, 0x00, 0x08};
    for (unsigned byte = 4; byte < 16; ++byte) base[byte] = static_cast<std::uint8_t>(random());
    add_prefix(subnets, prefixes, "v6_" + std::to_string(length), AF_INET6, base, length);
  }
  for (unsigned length = 1; length <= 32; ++length) {
    // Every prefix of 10.1.2.3 and of 172.16.200.9 (they differ in the first bit).
    for (const char* base : {"10.1.2.3", "172.16.200.9"})
      add_prefix(subnets, prefixes, "v4_" + std::to_string(subnets.size()), AF_INET,
                 parse_address(base).bytes, length);
  }
  const subnet_table table(subnets);
  std::size_t matched = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto& [p, index] = prefixes[random() % prefixes.size()];
    // A peer near a prefix: its bits, then random ones from a random bit on.
    auto bytes = p.address;
    const unsigned bits = p.family == AF_INET ? 32 : 128;
    const unsigned from = static_cast<unsigned>(random() % (bits + 1));
    for (unsigned bit = from; bit < bits; ++bit)
      if (random() & 1) bytes[bit / 8] ^= static_cast<std::uint8_t>(0x80 >> (bit % 8));
    const auto expected = longest_match(prefixes, p.family, bytes);
    CAPTURE(i);
    REQUIRE(table.find(p.family, bytes) == expected);
    matched += expected != subnet_table::no_subnet;
  }
  CHECK(matched > 15000);  // the peers fall inside as well as between the prefixes
}

TEST_CASE("subnets: 300 random nested, adjacent and disjoint prefixes against the obvious rule") {
  // Few bases, random lengths: prefixes nest deeply, sit side by side and end
  // together, which is where cutting the address space into ranges can go wrong.
  std::mt19937 random(4096);
  std::vector<remote_subnet> subnets;
  std::vector<std::pair<ip_prefix, std::size_t>> prefixes;
  const std::array<std::array<std::uint8_t, 16>, 3> bases = {
      std::array<std::uint8_t, 16>{10, 1, 2, 3}, std::array<std::uint8_t, 16>{255, 255, 255, 255},
      std::array<std::uint8_t, 16>{0xfd, 0, 0, 8, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff}};
  while (prefixes.size() < 300) {
    const auto family = random() % 3 == 2 ? AF_INET6 : AF_INET;
    const unsigned bits = family == AF_INET ? 32 : 128;
    auto address = bases[family == AF_INET6 ? 2 : random() % 2];
    for (unsigned bit = bits - 12; bit < bits; ++bit)  // low bits vary
      if (random() & 1) address[bit / 8] ^= static_cast<std::uint8_t>(0x80 >> (bit % 8));
    const unsigned length = static_cast<unsigned>(random() % (bits + 1));
    add_prefix(subnets, prefixes, "s" + std::to_string(subnets.size()),
               static_cast<std::uint8_t>(family), address, length);
    for (std::size_t i = 0; i + 1 < prefixes.size(); ++i)
      if (prefixes[i].first == prefixes.back().first) {  // drawn before: drop it
        prefixes.pop_back();
        subnets.pop_back();
        break;
      }
  }
  const subnet_table table(subnets);
  for (int i = 0; i < 5000; ++i) {
    const auto& [p, index] = prefixes[random() % prefixes.size()];
    const unsigned bits = p.family == AF_INET ? 32 : 128;
    auto bytes = p.address;
    // Inside the prefix, at its edges, or just past them.
    switch (random() % 4) {
      case 0:
        for (unsigned bit = p.length; bit < bits; ++bit)
          if (random() & 1) bytes[bit / 8] ^= static_cast<std::uint8_t>(0x80 >> (bit % 8));
        break;
      case 1:  // its last address
        for (unsigned bit = p.length; bit < bits; ++bit)
          bytes[bit / 8] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
        break;
      case 2:  // the address before its first
        for (int byte = static_cast<int>(bits / 8) - 1; byte >= 0 && bytes[byte]-- == 0; --byte) {
        }
        break;
      default:  // the address after its last
        for (unsigned bit = p.length; bit < bits; ++bit)
          bytes[bit / 8] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
        for (int byte = static_cast<int>(bits / 8) - 1; byte >= 0 && ++bytes[byte] == 0; --byte) {
        }
    }
    CAPTURE(i);
    REQUIRE(table.find(p.family, bytes) == longest_match(prefixes, p.family, bytes));
  }
}

TEST_CASE(
    "subnets: bad names, empty, twice-listed and shared prefixes are errors naming the entry") {
  struct row {
    std::vector<remote_subnet> subnets;
    const char* says;
  };
  for (const auto& r : std::initializer_list<row>{
           {{{"off ice", {"10.0.0.0/8"}}}, "subnet name 'off ice' must be one metric path"},
           {{{"a.b", {"10.0.0.0/8"}}}, "subnet name 'a.b'"},
           {{{"", {"10.0.0.0/8"}}}, "subnet name ''"},
           {{{"office", {}}}, "subnet 'office' has no prefix"},
           {{{"office", {"10.1.0.0/33"}}}, "subnet 'office': '33' is not a prefix length"},
           {{{"office", {"10.1.0.0/16"}}, {"office", {"10.2.0.0/16"}}},
            "subnet name 'office' is given twice"},
           {{{"office", {"10.1.0.0/16", "10.1.0.0/16"}}},
            "subnet 'office' lists '10.1.0.0/16' twice"},
           {{{"office", {"10.1.0.0/16"}}, {"vpn", {"::ffff:10.1.0.0/112"}}},
            "subnet 'vpn': '::ffff:10.1.0.0/112' is also in subnet 'office'"},
       }) {
    const auto message = error_of(r.subnets);
    CHECK_MESSAGE(message.find(r.says) != std::string::npos, message);
  }
}
