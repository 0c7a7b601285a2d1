// Destinations as users write them: for nc (host:port), for carbon's own
// DESTINATIONS (host:port:instance), for carbon-c-relay's clusters
// (host[:port]=instance), and what counts as one member in each mode.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sockpush/carbon/carbon_config.hpp"
#include "sockpush/carbon/destination.hpp"

using namespace sockpush;

TEST_CASE("host:port forms users write for carbon") {
  CHECK(parse_host_port("graphite:2004")->to_string() == "graphite:2004");
  CHECK(parse_host_port("graphite")->port == "2003");
  CHECK(parse_host_port("[::1]:2005")->host == "::1");
  CHECK(parse_host_port("[::1]:2005")->to_string() == "[::1]:2005");
  CHECK(parse_host_port("::1")->port == "2003");
  std::string why;
  CHECK_FALSE(parse_host_port("graphite:0", &why));
  CHECK(why.find("1 to 65535") != std::string::npos);
  CHECK_FALSE(parse_host_port("graphite:70000"));
  CHECK_FALSE(parse_host_port("graphite:20x3"));
  CHECK_FALSE(parse_host_port("graphite:", &why));
  CHECK_FALSE(parse_host_port(":2003"));
  CHECK_FALSE(parse_host_port("[::1"));
  CHECK_FALSE(parse_host_port(""));
}

TEST_CASE("carbon destinations: host:port:instance as carbon writes it") {
  auto a = parse_carbon_destination("127.0.0.1:2004:a");
  REQUIRE(a);
  CHECK(a->where.host == "127.0.0.1");
  CHECK(a->where.port == "2004");
  CHECK(a->instance == "a");
  CHECK(a->metric_name() == "127_0_0_1_2004_a");
  auto v6 = parse_carbon_destination("[::1]:2004:b");
  REQUIRE(v6);
  CHECK(v6->where.host == "::1");
  CHECK(v6->instance == "b");
  CHECK(v6->to_string() == "[::1]:2004:b");
  auto bare = parse_carbon_destination("::1");  // an IPv6 literal, not host:port:instance
  REQUIRE(bare);
  CHECK(bare->where.host == "::1");
  CHECK(bare->instance.empty());
  std::string why;
  CHECK_FALSE(parse_carbon_destination("host:2003:", &why));
  CHECK(why.find("instance") != std::string::npos);
  CHECK_FALSE(parse_carbon_destination("ho'st:2003", &why));
  CHECK(why.find("letters") != std::string::npos);
  CHECK_FALSE(parse_carbon_destination("host:99999:a", &why));
}

TEST_CASE("destinations: carbon-c-relay's host[:port]=instance, and what is one member per mode") {
  auto relay = parse_carbon_destination("10.0.0.1:2103=4d79d13554fa1301");
  REQUIRE(relay);
  CHECK(relay->where.host == "10.0.0.1");
  CHECK(relay->where.port == "2103");
  CHECK(relay->instance == "4d79d13554fa1301");
  auto no_port = parse_carbon_destination("cache-2=7");
  REQUIRE(no_port);
  CHECK(no_port->where.port == "2003");
  CHECK(no_port->instance == "7");
  auto v6 = parse_carbon_destination("[::1]:2004=a");
  REQUIRE(v6);
  CHECK(v6->where.host == "::1");
  std::string why;
  CHECK_FALSE(parse_carbon_destination("10.0.0.1:2003=", &why));
  CHECK(why.find("empty instance") != std::string::npos);

  struct row {
    destination_mode mode;
    std::vector<std::string> listed;
    bool accepted;
  };
  const row rows[] = {
      {destination_mode::fnv1a_ch, {"a:2003", "a:2103"}, true},  // the ports tell them apart
      {destination_mode::fnv1a_ch, {"a:2003", "a:2003"}, false},
      {destination_mode::fnv1a_ch, {"a:2003=x", "b:2003=x"}, false},
      {destination_mode::jump_fnv1a_ch, {"a:2003=1", "b:2003=1"}, false},
      {destination_mode::jump_fnv1a_ch, {"a:2003=1", "b:2003=2", "c:2003"}, true},
      {destination_mode::carbon_ch, {"a:2003=x", "a:2103=x"}, false},
      {destination_mode::carbon_ch, {"a:2003=x", "a:2103=y"}, true},
  };
  for (const auto& r : rows) {
    CAPTURE(r.listed.front());
    CAPTURE(r.listed.back());
    if (r.accepted)
      CHECK(parse_destinations(r.listed, r.mode, "carbon.destinations").size() == r.listed.size());
    else
      CHECK_THROWS_WITH(parse_destinations(r.listed, r.mode, "carbon.destinations"),
                        doctest::Contains("listed twice"));
  }
}
