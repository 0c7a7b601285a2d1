// Kernel settings that decide how fast ports run out, sent as gauges so a
// graph shows the moment someone changed them: tcp_fin_timeout,
// tcp_tw_reuse, tcp_max_tw_buckets and the usable ephemeral port count.
#pragma once

#include "sockpush/collect/collector.hpp"

namespace sockpush {

class settings_collector final : public collector {
 public:
  void collect(round_lines& out) override;
  std::string_view name() const override { return "settings"; }
};

}  // namespace sockpush
