#include <doctest/doctest.h>

#include <limits>
#include <stdexcept>

#include "sockpush/collect/round_lines.hpp"
#include "sockpush/common/metric_path.hpp"

using namespace sockpush;

TEST_CASE("plaintext lines are 'path value timestamp\\n'") {
  std::string out;
  round_lines lines(out, "router1", 1700000000);
  lines.add("tcp.states.time_wait", std::uint64_t{28232});
  lines.add("x.ratio", 0.25);
  lines.add("x.bad", std::numeric_limits<double>::quiet_NaN());
  CHECK(out ==
        "router1.tcp.states.time_wait 28232 1700000000\n"
        "router1.x.ratio 0.25 1700000000\n");
}

TEST_CASE("host names become one path component") {
  CHECK(sanitize_path_component("web-01.example.org") == "web-01_example_org");
  CHECK(sanitize_path_component("a b/c") == "a_b_c");
  auto host = short_hostname();
  CHECK_FALSE(host.empty());
  CHECK(host.find('.') == std::string::npos);
}

TEST_CASE("prefix template expansion and its errors") {
  CHECK(expand_prefix("{host}", "r1") == "r1");
  CHECK(expand_prefix("servers.{host}.net", "r1") == "servers.r1.net");
  CHECK_THROWS_WITH_AS(expand_prefix("{hostname}", "r1"), doctest::Contains("unknown placeholder"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(expand_prefix("a.{host", "r1"), doctest::Contains("unbalanced"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(expand_prefix("a b", "r1"), doctest::Contains("offset 1"),
                       std::invalid_argument);
  CHECK_THROWS_AS(expand_prefix("a..b", "r1"), std::invalid_argument);
  CHECK_THROWS_AS(expand_prefix(".a", "r1"), std::invalid_argument);
  CHECK_THROWS_AS(expand_prefix("", "r1"), std::invalid_argument);
}
