// The intake's bulk path (runs of canonical lines copied at once) must give
// exactly what validating line by line gives, however the stream is cut.
#include <doctest/doctest.h>

#include "sockpush/intake/line_intake.hpp"

using namespace sockpush;

namespace {

std::string mixed_input() {
  std::string in;
  in += "a.b.c 1 1700000000\n";
  in += "tagged;dc=eu 2 1700000000\n";
  in += "crlf.line 3 1700000000\r\n";
  in += "two.fields 4\n";
  in += "spaced   5\t1700000000\n";
  in += "bad.value nan 1\n";
  in += "wild.* 6 1\n";
  in += "\n";
  in += std::string(max_line_bytes + 10, 'x') + " 1 1\n";
  in += "caf\xc3\xa9 7 1\n";
  in += "exp.value 1e3 1700000000\n";
  in += "-1.ts 8 -1\n";
  for (int i = 0; i < 50; ++i)
    in += "run.of.plain" + std::to_string(i) + " " + std::to_string(i) + " 1700000001\n";
  in += "no.newline.at.end 9 1700000002";
  return in;
}

struct outcome {
  std::string lines;
  std::uint64_t accepted = 0;
  invalid_line_counts invalid;
};

outcome line_by_line(const std::string& input, const line_rules& rules) {
  outcome o;
  std::size_t pos = 0;
  while (pos <= input.size()) {
    auto nl = input.find('\n', pos);
    auto line =
        std::string_view(input).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto v = validate_line(line, 1234, rules, o.lines);
    if (v == line_verdict::ok)
      ++o.accepted;
    else if (v != line_verdict::empty)
      o.invalid.add(v);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return o;
}

outcome through_intake(const std::string& input, std::size_t chunk, const line_rules& rules) {
  line_buffer buffer(1 << 20);
  line_intake intake(
      buffer, [] {}, rules);
  line_splitter splitter;
  std::uint64_t line_number = 0;
  for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
    intake.feed(splitter, std::string_view(input).substr(pos, chunk), "test", line_number, 1234);
    intake.commit();
  }
  intake.finish(splitter, "test", line_number, 1234);
  intake.commit();
  outcome o;
  buffer.take(o.lines, 1 << 20);
  o.accepted = intake.accepted_lines();
  o.invalid = intake.invalid();
  CHECK(count_lines(o.lines) == o.accepted);
  return o;
}

}  // namespace

TEST_CASE("intake: bulk feeding in any chunk size equals validating line by line") {
  auto input = mixed_input();
  for (auto rules : {line_rules{}, line_rules{path_policy::sanitise, {}},
                     line_rules{path_policy::reject, "pre"}}) {
    auto expected = line_by_line(input, rules);
    REQUIRE(expected.accepted > 50);
    REQUIRE(expected.invalid.total() >= 2);  // nan and the long line, under every policy
    for (std::size_t chunk : {1, 2, 3, 7, 19, 64, 4096, 1 << 20}) {
      CAPTURE(chunk);
      auto got = through_intake(input, chunk, rules);
      CHECK(got.lines == expected.lines);
      CHECK(got.accepted == expected.accepted);
      CHECK(got.invalid.by_reason == expected.invalid.by_reason);
    }
  }
}

TEST_CASE("intake: one commit per read pushes once and wakes the writer once") {
  line_buffer buffer(1 << 20);
  int wakes = 0;
  line_intake intake(buffer, [&wakes] { ++wakes; });
  line_splitter splitter;
  std::uint64_t line_number = 0;
  intake.feed(splitter, "a 1 1\nb 2 2\nc 3", "test", line_number, 0);
  intake.commit();
  CHECK(wakes == 1);
  CHECK(buffer.lines() == 2);
  intake.commit();  // nothing new: no wake-up
  CHECK(wakes == 1);
  intake.feed(splitter, " 3\n", "test", line_number, 0);
  intake.commit();
  CHECK(buffer.lines() == 3);
  CHECK(line_number == 3);
  std::string out;
  buffer.take(out, 1 << 20);
  CHECK(out == "a 1 1\nb 2 2\nc 3 3\n");
}
