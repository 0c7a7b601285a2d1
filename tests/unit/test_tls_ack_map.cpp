// The TLS ciphertext-to-plaintext acknowledgement map, by table.
#include <doctest/doctest.h>

#include "sockpush/carbon/tls_ack_map.hpp"

using namespace sockpush;

TEST_CASE("tls_ack_map: a plaintext write counts as acknowledged only when all its ciphertext is") {
  // A handshake of 300 bytes, then writes of 1000 and 500 plaintext bytes
  // that became 1022 and 522 bytes of ciphertext (one record each).
  struct row {
    int ciphertext_unacked;
    int plaintext_unacked;
    const char* why;
  };
  const row rows[] = {
      {-1, -1, "the kernel could not tell"},
      {1844, 1500, "nothing acknowledged, not even the handshake"},
      {1544, 1500, "the handshake only"},
      {523, 1500, "one byte of the first record missing: it cannot be decrypted"},
      {522, 500, "the first record whole"},
      {1, 500, "the last byte of the second record missing"},
      {0, 0, "everything"},
      {5000, 1500, "more than was ever written (a bad reading): nothing known acknowledged"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.why);
    tls_ack_map map;
    map.wrote(1000, 300 + 1022);
    map.wrote(500, 300 + 1022 + 522);
    CHECK(map.plaintext_unacked(r.ciphertext_unacked, 1844) == r.plaintext_unacked);
    CHECK(map.plaintext_total() == 1500);
  }
}

TEST_CASE("tls_ack_map: acknowledgements only move forward, writes keep coming") {
  tls_ack_map map;
  std::uint64_t ciphertext = 0;
  for (int i = 0; i < 100; ++i) {
    ciphertext += 122;
    map.wrote(100, ciphertext);
    // The peer acknowledges all but the last two records each time.
    const auto unacked = static_cast<int>(std::min<std::uint64_t>(ciphertext, 244));
    CHECK(map.plaintext_unacked(unacked, ciphertext) == (i == 0 ? 100 : 200));
  }
  // A stale reading (more unacknowledged than before) does not take back
  // what was acknowledged.
  CHECK(map.plaintext_unacked(static_cast<int>(ciphertext), ciphertext) == 200);
  CHECK(map.plaintext_unacked(0, ciphertext) == 0);
}
