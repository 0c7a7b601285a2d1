#include <doctest/doctest.h>

#include "sockpush/line_validator.hpp"

using namespace sockpush;

namespace {
line_verdict check(std::string_view line, std::string* out = nullptr) {
  std::string local;
  return validate_line(line, 1700000000, out ? *out : local);
}
}  // namespace

TEST_CASE("valid lines are forwarded in canonical form; a missing timestamp is filled in") {
  std::string out;
  CHECK(check("a.b.c 1 1690000000", &out) == line_verdict::ok);
  CHECK(check("a.b.c\t-2.5e3   1690000000.5", &out) == line_verdict::ok);
  CHECK(check("x.y 42", &out) == line_verdict::ok);
  CHECK(check("x.y 42 -1", &out) == line_verdict::ok);  // carbon reads -1 as "now"
  CHECK(check("tagged;dc=eu;host=r1 3 1690000000", &out) == line_verdict::ok);
  CHECK(out ==
        "a.b.c 1 1690000000\n"
        "a.b.c -2.5e3 1690000000.5\n"
        "x.y 42 1700000000\n"
        "x.y 42 -1\n"
        "tagged;dc=eu;host=r1 3 1690000000\n");
}

TEST_CASE("invalid lines are refused with their reason and nothing is written") {
  std::string out;
  CHECK(check("", &out) == line_verdict::empty);
  CHECK(check("   \t", &out) == line_verdict::empty);
  CHECK(check("only.path", &out) == line_verdict::field_count);
  CHECK(check("a 1 2 3", &out) == line_verdict::field_count);
  CHECK(check("a nan 1", &out) == line_verdict::bad_value);
  CHECK(check("a inf 1", &out) == line_verdict::bad_value);
  CHECK(check("a 1x 1", &out) == line_verdict::bad_value);
  CHECK(check("a 1 yesterday", &out) == line_verdict::bad_timestamp);
  CHECK(check("caf\xc3\xa9 1 1", &out) == line_verdict::bad_path);  // non-ASCII
  CHECK(check("bad\xff 1 1", &out) == line_verdict::bad_path);      // invalid UTF-8
  CHECK(check(std::string("nul\0x 1 1", 9), &out) == line_verdict::bad_path);
  CHECK(check(".a 1 1", &out) == line_verdict::bad_path);
  CHECK(check(std::string(max_line_bytes + 1, 'a'), &out) == line_verdict::too_long);
  CHECK(out.empty());
}
