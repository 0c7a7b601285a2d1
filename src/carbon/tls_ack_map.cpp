#include "sockpush/carbon/tls_ack_map.hpp"

#include <algorithm>
#include <limits>

namespace sockpush {

void tls_ack_map::wrote(std::uint64_t plaintext_bytes, std::uint64_t ciphertext_total) {
  plaintext_total_ += plaintext_bytes;
  marks_.emplace_back(ciphertext_total, plaintext_total_);
}

int tls_ack_map::plaintext_unacked(int ciphertext_unacked, std::uint64_t ciphertext_total) {
  if (ciphertext_unacked < 0) return -1;
  const auto unacked =
      std::min<std::uint64_t>(static_cast<std::uint64_t>(ciphertext_unacked), ciphertext_total);
  const auto ciphertext_acked = ciphertext_total - unacked;
  while (!marks_.empty() && marks_.front().first <= ciphertext_acked) {
    plaintext_acked_ = marks_.front().second;
    marks_.pop_front();
  }
  const auto pending = plaintext_total_ - plaintext_acked_;
  return static_cast<int>(std::min<std::uint64_t>(pending, std::numeric_limits<int>::max()));
}

}  // namespace sockpush
