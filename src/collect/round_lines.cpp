#include "sockpush/collect/round_lines.hpp"

#include <fmt/format.h>

#include <cmath>
#include <iterator>

namespace sockpush {

void round_lines::append_path(std::string_view name) {
  out_.append(prefix_);
  out_.push_back('.');
  out_.append(name);
  out_.push_back(' ');
}

void round_lines::append_timestamp() {
  out_.push_back(' ');
  out_.append(fmt::format_int(timestamp_).str());
  out_.push_back('\n');
}

void round_lines::add(std::string_view name, std::uint64_t value) {
  append_path(name);
  fmt::format_int digits(value);
  out_.append(digits.data(), digits.size());
  append_timestamp();
}

void round_lines::add(std::string_view name, double value) {
  // Carbon rejects nan/inf lines; a collector producing one is a bug, but the
  // line must still not poison the connection.
  if (!std::isfinite(value)) return;
  append_path(name);
  fmt::format_to(std::back_inserter(out_), "{}", value);
  append_timestamp();
}

}  // namespace sockpush
