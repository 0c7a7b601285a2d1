#include <doctest/doctest.h>

#include "sockpush/carbon/destination.hpp"

using sockpush::parse_host_port;

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
