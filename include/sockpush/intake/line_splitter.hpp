// Cutting a byte stream (pipe, socket, datagram) into Graphite lines, with
// bounded memory whatever the peer sends.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "sockpush/intake/line_validator.hpp"

namespace sockpush {

/// Cuts a byte stream into lines, carrying a partial line between reads.
/// A line longer than max_line_bytes is kept only up to one byte more,
/// enough for the validator to refuse it, so memory stays bounded.
class line_splitter {
 public:
  template <typename OnLine>
  void feed(std::string_view data, OnLine&& on_line) {
    std::size_t pos = complete(data, on_line);
    for (;;) {
      auto nl = data.find('\n', pos);
      if (nl == std::string_view::npos) break;
      on_line(data.substr(pos, nl - pos));
      pos = nl + 1;
    }
    keep(data.substr(std::min(pos, data.size())));
  }

  /// End of stream: a last line without '\n' counts too (nc sends it).
  template <typename OnLine>
  void finish(OnLine&& on_line) {
    if (!partial_.empty()) on_line(std::string_view(partial_));
    partial_.clear();
  }

  /// If a partial line is carried, completes it from the start of `data`
  /// and hands it on. Returns the offset in `data` where the next line
  /// starts (data.size() + 1 if all of it went into the partial line).
  template <typename OnLine>
  std::size_t complete(std::string_view data, OnLine&& on_line) {
    if (partial_.empty()) return 0;
    auto nl = data.find('\n');
    keep(data.substr(0, nl));
    if (nl == std::string_view::npos) return data.size() + 1;
    on_line(std::string_view(partial_));
    partial_.clear();
    return nl + 1;
  }

  /// Drops the unterminated fragment (a stream that broke off); returns
  /// whether there was one.
  bool discard() {
    const bool had = !partial_.empty();
    partial_.clear();
    return had;
  }

  /// Carries an unterminated fragment over to the next read.
  void keep(std::string_view fragment) {
    auto room = max_line_bytes + 1 - std::min(partial_.size(), max_line_bytes + 1);
    partial_.append(fragment.substr(0, room));
  }

 private:
  std::string partial_;
};

}  // namespace sockpush
