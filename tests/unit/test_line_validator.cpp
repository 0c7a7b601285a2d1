#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "sockpush/intake/canonical_scan.hpp"
#include "sockpush/intake/line_validator.hpp"

using namespace sockpush;

namespace {
line_verdict check(std::string_view line, std::string* out = nullptr, line_rules rules = {}) {
  std::string local;
  return validate_line(line, 1700000000, rules, out ? *out : local);
}
}  // namespace

TEST_CASE("valid lines are forwarded in canonical form, a missing timestamp is filled in") {
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
  CHECK(check("a 1e999 1", &out) == line_verdict::bad_value);
  CHECK(check("a 1e-999 1", &out) == line_verdict::bad_value);
  CHECK(check("a 1x 1", &out) == line_verdict::bad_value);
  CHECK(check("a 1 yesterday", &out) == line_verdict::bad_timestamp);
  CHECK(check("caf\xc3\xa9 1 1", &out) == line_verdict::bad_path);  // non-ASCII
  CHECK(check("bad\xff 1 1", &out) == line_verdict::bad_utf8);
  CHECK(check("bad\xc0\xaf 1 1", &out) == line_verdict::bad_utf8);      // overlong '/'
  CHECK(check("bad\xed\xa0\x80 1 1", &out) == line_verdict::bad_utf8);  // surrogate
  CHECK(check("cut\xe2\x82 1 1", &out) == line_verdict::bad_utf8);      // truncated
  CHECK(check(std::string("nul\0x 1 1", 9), &out) == line_verdict::bad_path);
  CHECK(check(".a 1 1", &out) == line_verdict::bad_path);
  CHECK(check("a. 1 1", &out) == line_verdict::bad_path);
  CHECK(check("a..b 1 1", &out) == line_verdict::bad_path);
  for (const char* glob : {"a.* 1 1", "a.b? 1 1", "a.{b,c} 1 1", "a.[bc] 1 1", "sum(a) 1 1",
                           "a/b 1 1", "a\\b 1 1", "a'b 1 1", "a=b 1 1"})
    CHECK_MESSAGE(check(glob, &out) == line_verdict::bad_path, glob);
  CHECK(check(std::string(max_line_bytes + 1, 'a'), &out) == line_verdict::too_long);
  CHECK(out.empty());
}

TEST_CASE("Graphite 1.1 tags follow carbon's own rules") {
  std::string out;
  CHECK(check("disk.used;host=r1;mount=/var/log 5 1", &out) == line_verdict::ok);
  CHECK(check("disk.used;city=K\xc3\xb8"
              "benhavn 5 1",
              &out) == line_verdict::ok);                // UTF-8 value
  CHECK(check("a;=v 1 1") == line_verdict::bad_tag);     // empty name
  CHECK(check("a;k= 1 1") == line_verdict::bad_tag);     // empty value
  CHECK(check("a;k 1 1") == line_verdict::bad_tag);      // no '='
  CHECK(check("a;k!=v 1 1") == line_verdict::bad_tag);   // '!' in a name
  CHECK(check("a;k^x=v 1 1") == line_verdict::bad_tag);  // '^' in a name
  CHECK(check("a;k=~v 1 1") == line_verdict::bad_tag);   // value starting with '~'
  CHECK(check("a;k=v;; 1 1") == line_verdict::bad_tag);  // empty segment
  CHECK(check("a;k=\xff 1 1") == line_verdict::bad_utf8);
  CHECK(check(";k=v 1 1") == line_verdict::bad_path);  // no metric name
  CHECK(out ==
        "disk.used;host=r1;mount=/var/log 5 1\n"
        "disk.used;city=K\xc3\xb8"
        "benhavn 5 1\n");
}

TEST_CASE(
    "sanitise mode replaces bad path characters (a UTF-8 sequence as one) but never structure") {
  line_rules sanitise{path_policy::sanitise, {}};
  std::string out;
  CHECK(check("caf\xc3\xa9.load 1 1", &out, sanitise) == line_verdict::ok);
  CHECK(check("web/01.req*s 2 1", &out, sanitise) == line_verdict::ok);
  CHECK(out == "caf_.load 1 1\nweb_01.req_s 2 1\n");
  CHECK(check("bad\xff 1 1", nullptr, sanitise) == line_verdict::bad_utf8);
  CHECK(check("a..b 1 1", nullptr, sanitise) == line_verdict::bad_path);
}

TEST_CASE("a prefix is prepended to relative names, and counts toward the length limit") {
  line_rules prefixed{path_policy::reject, "router1"};
  std::string out;
  CHECK(check("probe.rtt 12.5", &out, prefixed) == line_verdict::ok);
  CHECK(out == "router1.probe.rtt 12.5 1700000000\n");
  std::string near_limit(max_line_bytes - 4, 'a');
  near_limit += " 1 1";
  CHECK(check(near_limit) == line_verdict::ok);
  CHECK(check(near_limit, nullptr, prefixed) == line_verdict::too_long);
}

TEST_CASE("refusal counts are summarised by reason") {
  invalid_line_counts counts;
  counts.add(line_verdict::too_long);
  counts.add(line_verdict::bad_value);
  counts.add(line_verdict::bad_value);
  CHECK(counts.total() == 3);
  CHECK(counts.summary() == "1 too_long, 2 bad_value");
}

TEST_CASE("the vectorised fast paths agree with the full validator on 300k generated lines") {
  // A prefix turns the fast path off, so the same line validated with and
  // without one must get the same verdict (and the same text after the
  // prefix). Paths are built around the 16-byte blocks of the fast path:
  // dots, double dots, spaces and rarer characters at every offset.
  const std::string alphabet[] = {"a", "Z",        "0", "9", ".", ".", "_", "-",  ":",
                                  "@", "\xc3\xa9", ";", "=", "*", "/", " ", "\t", "\x01"};
  std::uint64_t state = 0x9e3779b97f4a7c15;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  std::size_t accepted = 0, scanned_fast = 0;
  for (int i = 0; i < 300000; ++i) {
    std::string line;
    const auto length = next() % 48 + 1;
    for (std::uint64_t k = 0; k < length; ++k) {
      // Mostly letters, so that long plain runs (whole blocks) are common.
      const auto r = next() % 100;
      line += r < 70 ? std::string(1, static_cast<char>('a' + r % 26)) : alphabet[r % 18];
    }
    // Numbers: mostly plain, some with signs, dots, exponents or spaces
    // anywhere, some long enough to leave the SSE2 masks' 32 bytes.
    const char* number_bytes = "0123456789012345678901234567890123456789..--+e ";
    for (int field = 0; field < 2; ++field) {
      line += ' ';
      const auto digits = next() % 8 == 0 ? next() % 30 + 1 : next() % 11 + 1;
      for (std::uint64_t k = 0; k < digits; ++k)
        line += next() % 5 ? static_cast<char>('0' + next() % 10) : number_bytes[next() % 48];
      if (field == 0 && next() % 4 == 0) break;  // no timestamp
    }
    std::string fast, full;
    auto fast_verdict = validate_line(line, 1, line_rules{}, fast);
    auto full_verdict = validate_line(line, 1, line_rules{path_policy::reject, "p"}, full);
    REQUIRE_MESSAGE(fast_verdict == full_verdict, "\"" << line << "\"");
    if (fast_verdict == line_verdict::ok) {
      REQUIRE(full == "p." + fast);
      ++accepted;
    }
    // Each scanner on its own, on the bare text and on the line in a
    // stream (the SSE2 one reads numbers as masks only with 32 bytes to
    // spare): what it passes must be a line the validator keeps unchanged,
    // and the scanners must agree with each other.
    const bool canonical = full_verdict == line_verdict::ok && full == "p." + line + "\n";
    const std::string framed = line + "\n" + std::string(64, 'y');
    using scanner = const char* (*)(const char*, const char*);
    std::vector<scanner> scanners{detail::scan_plain_line_portable};
#if defined(__SSE2__)
    scanners.push_back(detail::scan_plain_line_sse2);
#endif
    std::vector<bool> verdicts;
    for (auto scan : scanners) {
      const bool bare = scan(line.data(), line.data() + line.size()) == line.data() + line.size();
      const bool in_stream =
          scan(framed.data(), framed.data() + framed.size()) == framed.data() + line.size();
      REQUIRE_MESSAGE(bare == in_stream, "\"" << line << "\"");
      REQUIRE_MESSAGE((!bare || canonical), "\"" << line << "\" passed but is not canonical");
      verdicts.push_back(bare);
    }
    REQUIRE_MESSAGE(std::adjacent_find(verdicts.begin(), verdicts.end(), std::not_equal_to<>()) ==
                        verdicts.end(),
                    "\"" << line << "\": the scanners disagree");
    scanned_fast += verdicts.front();
  }
  MESSAGE(accepted << " of 300000 accepted, " << scanned_fast << " passed by the scanners");
  CHECK(scanned_fast > 10000);  // one scanner (most CPUs) or two (x86-64) alike
  CHECK(accepted > 30000);
  CHECK(accepted < 270000);
}
