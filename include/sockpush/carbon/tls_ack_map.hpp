// Over TLS the kernel counts unacknowledged bytes (SIOCOUTQ) in ciphertext,
// while the delivery machine counts the plaintext it wrote. This maps one to
// the other: after each plaintext write completes, the shell marks how much
// ciphertext had gone to the socket by then. A byte of plaintext counts as
// acknowledged only when all the ciphertext up to its write's mark is: carbon
// can decrypt a record only whole, and a write ends on a record boundary.
#pragma once

#include <cstdint>
#include <deque>
#include <utility>

namespace sockpush {

class tls_ack_map {
 public:
  /// A plaintext write completed; `ciphertext_total` bytes have gone to the
  /// socket since the connection began (the handshake included).
  void wrote(std::uint64_t plaintext_bytes, std::uint64_t ciphertext_total);

  /// Plaintext bytes not known to be acknowledged when the kernel holds
  /// `ciphertext_unacked` bytes of `ciphertext_total` unacknowledged; -1 if
  /// the kernel could not tell (passed through).
  int plaintext_unacked(int ciphertext_unacked, std::uint64_t ciphertext_total);

  std::uint64_t plaintext_total() const { return plaintext_total_; }

 private:
  std::uint64_t plaintext_total_ = 0;
  /// (ciphertext total, plaintext total) after each write not yet known to
  /// be acknowledged, oldest first.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> marks_;
  std::uint64_t plaintext_acked_ = 0;
};

}  // namespace sockpush
