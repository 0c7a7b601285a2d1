// A collector adds one round's measurements to the round's lines. It runs on
// the io_context thread and must not wait for the network.
#pragma once

#include <string_view>

#include "sockpush/collect/round_lines.hpp"

namespace sockpush {

class collector {
 public:
  virtual ~collector() = default;
  /// Appends this collector's lines for the current round.
  virtual void collect(round_lines& out) = 0;
  /// Short name for logs.
  virtual std::string_view name() const = 0;
};

}  // namespace sockpush
