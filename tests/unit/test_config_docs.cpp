// The configuration is documented three times, for three kinds of reader:
// etc/sockpush.toml (the sample), sockpush.toml(5) and the README's table.
// Each must show every key the file is read with (config_keys(), from the
// key tables in app/config.cpp), with its built-in default, and no other key.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <toml.hpp>

#include "sockpush/app/config.hpp"
#include "support/files.hpp"

using namespace sockpush;

namespace {

/// "section.key" -> the default as the document writes it (empty: none given).
using documented = std::map<std::string, std::string>;

std::optional<toml::value> toml_value(const std::string& text) {
  try {
    std::istringstream in("v = " + text);
    return toml::find(toml::parse(in, "value"), "v");
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// 30 and 30.0 are the same default; anything else compares as TOML.
bool same_value(const std::string& written, const std::string& wanted) {
  const auto a = toml_value(written), b = toml_value(wanted);
  if (!a || !b) return false;
  auto number = [](const toml::value& v) -> std::optional<double> {
    if (v.is_integer()) return static_cast<double>(v.as_integer());
    if (v.is_floating()) return v.as_floating();
    return std::nullopt;
  };
  if (number(*a) && number(*b)) return *number(*a) == *number(*b);
  return *a == *b;
}

/// Every key set in the sample, commented out or not ("#key = value" shows
/// a key with no fixed default, or one the sample leaves off).
documented from_sample(const std::string& text) {
  static const std::regex table(R"(^#?\[\[?([a-z]+)\]\]?\s*$)");
  static const std::regex key(R"(^#?([a-z_]+) = (.*)$)");
  documented keys;
  std::string section;
  std::smatch m;
  for (const auto& line : test::split_lines(text)) {
    if (std::regex_match(line, m, table)) {
      section = m[1];
    } else if (std::regex_match(line, m, key)) {
      // The value, without a trailing comment.
      std::string value = m[2];
      while (!toml_value(value) && value.rfind('#') != std::string::npos)
        value = value.substr(0, value.rfind('#'));
      while (!value.empty() && value.back() == ' ') value.pop_back();
      keys[section + "." + std::string(m[1])] = value;
    }
  }
  return keys;
}

/// Every ".TP / .B key" entry of sockpush.toml(5) and its "Default: \fBvalue\fR.".
documented from_man_page(const std::string& text) {
  static const std::regex heading(R"re(^\.SH "\[\[?([a-z]+)\]\]?"$)re");
  static const std::regex entry(R"(^\.B ([a-z_]+)$)");
  static const std::regex default_line(R"(^Default: \\fB(.*)\\fR\.$)");
  documented keys;
  std::string section, current;
  bool after_tp = false;
  std::smatch m;
  for (auto line : test::split_lines(text)) {
    if (std::regex_match(line, m, heading)) {
      section = m[1];
      current.clear();
    } else if (after_tp && std::regex_match(line, m, entry)) {
      current = section + "." + std::string(m[1]);
      keys[current] = "";
    } else if (!current.empty() && std::regex_match(line, m, default_line)) {
      keys[current] = std::regex_replace(std::string(m[1]), std::regex(R"(\\\(dq)"), "\"");
      keys[current] = std::regex_replace(keys[current], std::regex(R"(\\-)"), "-");
    }
    after_tp = line == ".TP";
  }
  return keys;
}

/// Every row of the README's table under "## Configuration": `section.key`,
/// then the default, in backticks when it is a value.
documented from_readme(const std::string& text) {
  static const std::regex row(R"(^\| `([a-z_]+\.[a-z_]+)` \| (`([^`]*)`)?[^|]*\|.*$)");
  documented keys;
  const auto from = text.find("## Configuration");
  const auto to = text.find("\n## ", from + 1);
  REQUIRE(from != std::string::npos);
  std::smatch m;
  for (const auto& line : test::split_lines(text.substr(from, to - from)))
    if (std::regex_match(line, m, row)) keys[m[1]] = m[3];
  return keys;
}

/// What is wrong with `doc`'s keys, one line each (empty: nothing).
std::string drift(const documented& doc) {
  std::string wrong;
  std::map<std::string, std::optional<std::string>> keys;
  for (const auto& k : config_keys()) keys[k.section + "." + k.key] = k.default_value;
  for (const auto& [name, wanted] : keys) {
    const auto found = doc.find(name);
    if (found == doc.end())
      wrong += name + ": missing\n";
    else if (wanted && !same_value(found->second, *wanted))
      wrong += name + ": default written as '" + found->second + "', is " + *wanted + "\n";
  }
  for (const auto& [name, value] : doc)
    if (!keys.count(name)) wrong += name + ": not a sockpush setting\n";
  return wrong;
}

}  // namespace

TEST_CASE("config docs: the sample holds every key with its default, and no other key") {
  auto sample = from_sample(test::read_file(SOCKPUSH_SOURCE_DIR "/etc/sockpush.toml"));
  // The one key the sample sets on purpose: it sends to a local carbon.
  CHECK(sample["carbon.address"] == "\"127.0.0.1:2003\"");
  sample["carbon.address"] = "\"-\"";
  CHECK_MESSAGE(drift(sample).empty(), drift(sample));
}

TEST_CASE("config docs: sockpush.toml(5) has an entry and the default of every key") {
  const auto man =
      from_man_page(test::read_file(SOCKPUSH_SOURCE_DIR "/packaging/man/sockpush.toml.5"));
  CHECK_MESSAGE(drift(man).empty(), drift(man));
}

TEST_CASE("config docs: the README's table has a row and the default of every key") {
  const auto readme = from_readme(test::read_file(SOCKPUSH_SOURCE_DIR "/README.md"));
  CHECK_MESSAGE(drift(readme).empty(), drift(readme));
}

TEST_CASE("config docs: the keys come with their defaults from the tables the file is read with") {
  std::map<std::string, std::optional<std::string>> keys;
  for (const auto& k : config_keys()) keys[k.section + "." + k.key] = k.default_value;
  CHECK(keys.size() == 66);
  CHECK(keys.at("carbon.hold_down") == "30");
  CHECK(keys.at("carbon.reconnect_min") == "0.5");
  CHECK(keys.at("carbon.mode") == "\"failover\"");
  CHECK(keys.at("collectors.tcp_local_ports") == "[]");
  CHECK(keys.at("collectors.udp") == "true");
  CHECK(keys.at("send.flush_ms") == "50");
  CHECK(keys.at("clock.not_before") == std::nullopt);
  CHECK(keys.at("exec.command") == std::nullopt);
}
