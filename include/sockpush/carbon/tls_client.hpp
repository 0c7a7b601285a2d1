// TLS to carbon over OpenSSL 3, with Boost.Asio's SSL stream: the context
// made from [carbon] tls_* settings, the sessions kept for resumption, and
// why a handshake failed in OpenSSL's words. Built with SOCKPUSH_TLS only.
//
//   delivery_fsm <-> carbon_writer -> tls_stream -> counted_socket -> tcp::socket
//                                     (plaintext)   (counts ciphertext) (SIOCOUTQ)
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "sockpush/carbon/carbon_config.hpp"
#include "sockpush/carbon/writer_stats.hpp"
#include "sockpush/common/asio.hpp"

namespace sockpush {

/// The socket under the TLS stream: passes everything through and counts
/// the ciphertext bytes written, which tls_ack_map needs to read SIOCOUTQ.
class counted_socket {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;
  using lowest_layer_type = asio::ip::tcp::socket::lowest_layer_type;

  explicit counted_socket(asio::ip::tcp::socket& socket) : socket_(socket) {}

  executor_type get_executor() { return socket_.get_executor(); }
  lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }
  std::uint64_t written() const { return written_; }

  template <typename MutableBuffers, typename Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    socket_.async_read_some(buffers, std::forward<Handler>(handler));
  }

  template <typename ConstBuffers, typename Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    socket_.async_write_some(buffers, [this, handler = std::forward<Handler>(handler)](
                                          const error_code& ec, std::size_t n) mutable {
      written_ += n;
      handler(ec, n);
    });
  }

 private:
  asio::ip::tcp::socket& socket_;
  std::uint64_t written_ = 0;
};

using tls_stream = asio::ssl::stream<counted_socket>;

class tls_client {
 public:
  /// Loads the CAs, the client certificate and key; throws config_error
  /// naming the key and file, with OpenSSL's reason.
  explicit tls_client(const tls_config& cfg);
  ~tls_client();

  /// A client stream over `socket` for `host` (SNI, the name checked),
  /// offering the session last kept for `destination`.
  std::unique_ptr<tls_stream> stream_for(asio::ip::tcp::socket& socket, std::size_t destination,
                                         const std::string& host);
  /// Keeps `stream`'s session, when resumable, for the next connection to
  /// `destination`.
  void keep_session(tls_stream& stream, std::size_t destination);
  /// Why the handshake on `stream` ended with `ec`.
  std::pair<tls_failure, std::string> explain(tls_stream& stream, const error_code& ec) const;

 private:
  struct session_free {
    void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
  };

  tls_config cfg_;
  asio::ssl::context context_;
  std::map<std::size_t, std::unique_ptr<SSL_SESSION, session_free>> sessions_;
};

}  // namespace sockpush
