// How the bytes go to carbon over one connected socket: plain TCP, or TLS
// (tls_transport in tls_client.hpp, with SOCKPUSH_TLS). The I/O shell
// (carbon_writer) is written once against this, after Beast's plain and
// ssl sessions and carbon-c-relay's chain of z_strm.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sockpush/carbon/carbon_config.hpp"
#include "sockpush/carbon/writer_stats.hpp"
#include "sockpush/common/asio.hpp"

namespace sockpush {

class tls_client;

class transport {
 public:
  using write_handler = std::function<void(const error_code&, std::size_t)>;
  virtual ~transport() = default;

  /// What must happen before the first write (the TLS handshake), within the
  /// connect timeout; `timed_out` turns true if the timeout closed the
  /// socket meanwhile. Returns why it failed, if it did.
  virtual asio::awaitable<std::optional<std::string>> handshake(const bool& timed_out) = 0;
  /// Writes some of `data`; then `done(error, bytes of data taken)`. One at a time.
  virtual void write(std::string_view data, write_handler done) = 0;
  /// Reads until the connection ends (carbon sends nothing); how it ended.
  virtual asio::awaitable<error_code> watch() = 0;
  /// Bytes given to write() that the peer has not acknowledged, when the
  /// kernel holds `kernel_unacked` bytes of the socket's unacknowledged.
  virtual std::size_t unacknowledged(std::size_t kernel_unacked) = 0;
  /// Keeps what the next connection to the same destination can reuse (a
  /// TLS session); called before a close and before a move connects.
  virtual void keep_session() {}
  /// The TLS facts of the connection, for self-metrics.
  virtual void describe(connection_info& info) const { (void)info; }
};

/// Makes each new connection's transport: plain, or TLS with the [carbon]
/// tls_* settings (their certificates loaded once, here).
class transport_maker {
 public:
  /// Throws config_error when a TLS file cannot be used.
  explicit transport_maker(const tls_config& cfg);

  std::unique_ptr<transport> over(asio::ip::tcp::socket& socket, std::size_t destination,
                                  const std::string& host, const std::string& address);
  /// TLS handshakes that failed, by reason (all zero for plain TCP).
  const counts_by<tls_failure, tls_failure_count>& tls_failures() const { return failures_; }

 private:
  /// Null for plain TCP. (A shared_ptr: without SOCKPUSH_TLS it stays an
  /// incomplete type that is never made.)
  std::shared_ptr<tls_client> tls_;
  counts_by<tls_failure, tls_failure_count> failures_;
};

}  // namespace sockpush
