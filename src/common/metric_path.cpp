#include "sockpush/common/metric_path.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <stdexcept>

namespace sockpush {
namespace {

bool is_component_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

}  // namespace

std::string sanitize_path_component(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (!is_component_char(c)) c = '_';
  }
  return out;
}

std::string short_hostname() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') return "unknown";
  std::string_view host(name.data());
  return sanitize_path_component(host.substr(0, host.find('.')));
}

std::string expand_prefix(std::string_view templ, std::string_view host) {
  std::string out;
  for (std::size_t i = 0; i < templ.size(); ++i) {
    char c = templ[i];
    if (c == '{') {
      auto close = templ.find('}', i);
      if (close == std::string_view::npos)
        throw std::invalid_argument(fmt::format("unbalanced '{{' at offset {}", i));
      auto placeholder = templ.substr(i + 1, close - i - 1);
      if (placeholder != "host")
        throw std::invalid_argument(
            fmt::format("unknown placeholder '{{{}}}' (only {{host}} is known)", placeholder));
      out += host;
      i = close;
    } else if (c == '}') {
      throw std::invalid_argument(fmt::format("unbalanced '}}' at offset {}", i));
    } else if (is_component_char(c) || c == '.') {
      out += c;
    } else {
      throw std::invalid_argument(
          fmt::format("character '{}' at offset {} is not allowed in a Graphite path "
                      "(use letters, digits, '_', '-' and '.')",
                      c, i));
    }
  }
  if (out.empty()) throw std::invalid_argument("prefix expands to an empty string");
  if (out.front() == '.' || out.back() == '.' || out.find("..") != std::string::npos)
    throw std::invalid_argument("prefix has an empty path component (leading, trailing or '..')");
  return out;
}

}  // namespace sockpush
