// TLS to carbon over OpenSSL 3: the context made from [carbon] tls_*
// settings, the sessions kept for resumption, why a handshake failed in
// OpenSSL's words, and the connection itself. Built with SOCKPUSH_TLS only.
//
// OpenSSL works on memory BIOs, and sockpush moves the bytes between them
// and the socket. So it knows where every record's ciphertext ends on the
// wire (tls_ack_map reads SIOCOUTQ with it), and one send carries many
// records: a write encrypts up to 256 KiB of lines at once.
//
//   delivery_fsm <-> carbon_writer -> tls_transport -> tls_connection -> tcp::socket (SIOCOUTQ)
//                                    (tls_ack_map)     (SSL on memory BIOs)
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "sockpush/carbon/carbon_config.hpp"
#include "sockpush/carbon/tls_ack_map.hpp"
#include "sockpush/carbon/transport.hpp"
#include "sockpush/carbon/writer_stats.hpp"
#include "sockpush/common/asio.hpp"

namespace sockpush {

/// One TLS client connection over a connected socket, which it must not
/// outlive. One write and one read (the handshake, then watch()) at a time.
class tls_connection {
 public:
  tls_connection(SSL* ssl, asio::ip::tcp::socket& socket);
  ~tls_connection();
  tls_connection(const tls_connection&) = delete;
  tls_connection& operator=(const tls_connection&) = delete;

  SSL* native_handle() const { return ssl_; }
  /// Ciphertext bytes written to the socket so far, the handshake included.
  std::uint64_t ciphertext_written() const { return written_; }
  /// The same, up to the end of the last whole record a write reported.
  std::uint64_t ciphertext_reported() const { return ciphertext_of_whole_; }

  asio::awaitable<error_code> handshake();
  /// Encrypts up to 256 KiB of `plaintext` (unless records of it from the
  /// last call are still being written) and writes it; then `done(error,
  /// plaintext bytes)` once some records went out whole.
  void write(std::string_view plaintext, std::function<void(const error_code&, std::size_t)> done);
  /// Reads until the connection ends (taking in session tickets and alerts
  /// on the way); returns how it ended: eof for close_notify or a FIN.
  asio::awaitable<error_code> watch();

 private:
  /// Moves what OpenSSL produced from its output BIO to `pending_`.
  void drain_output();
  void send_pending(std::function<void(const error_code&, std::size_t)> done);
  /// The error OpenSSL reports for `result` of an SSL_* call.
  error_code failure(int result) const;

  SSL* ssl_;
  BIO* from_network_;  ///< ciphertext received, for OpenSSL to read
  BIO* to_network_;    ///< ciphertext OpenSSL produced, to send
  asio::ip::tcp::socket& socket_;
  /// Ciphertext to send, `sent_` bytes of it sent.
  std::string pending_;
  std::size_t sent_ = 0;
  /// The records in `pending_` not all sent: plaintext bytes, and where
  /// each one's ciphertext ends in `pending_`.
  struct record {
    std::size_t plaintext, ciphertext_end;
  };
  std::deque<record> records_;
  std::uint64_t written_ = 0;
  std::uint64_t ciphertext_of_whole_ = 0;
};

class tls_client {
 public:
  /// Loads the CAs, the client certificate and key; throws config_error
  /// naming the key and file, with OpenSSL's reason.
  explicit tls_client(const tls_config& cfg);
  ~tls_client();

  /// A client connection over `socket` for `host` (SNI, the name checked),
  /// offering the session last kept for `destination`.
  std::unique_ptr<tls_connection> connect(asio::ip::tcp::socket& socket, std::size_t destination,
                                          const std::string& host);
  /// Keeps `connection`'s session, when resumable, for the next connection
  /// to `destination`.
  void keep_session(const tls_connection& connection, std::size_t destination);
  /// Why a handshake ended with `ec`.
  std::pair<tls_failure, std::string> explain(const tls_connection& connection,
                                              const error_code& ec) const;

 private:
  struct session_free {
    void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
  };

  tls_config cfg_;
  asio::ssl::context context_;
  std::map<std::size_t, std::unique_ptr<SSL_SESSION, session_free>> sessions_;
};

/// One connection's transport over TLS: the handshake with its failure
/// explained and counted, writes mapped to acknowledgements (tls_ack_map),
/// and the session kept for the next connection to the same destination.
class tls_transport final : public transport {
 public:
  tls_transport(tls_client& client, counts_by<tls_failure, tls_failure_count>& failures,
                asio::ip::tcp::socket& socket, std::size_t destination, std::string host,
                std::string address);

  asio::awaitable<std::optional<std::string>> handshake(const bool& timed_out) override;
  void write(std::string_view data, write_handler done) override;
  asio::awaitable<error_code> watch() override { return connection_->watch(); }
  std::size_t unacknowledged(std::size_t kernel_unacked) override;
  void keep_session() override { client_.keep_session(*connection_, destination_); }
  void describe(connection_info& info) const override;

 private:
  tls_client& client_;
  counts_by<tls_failure, tls_failure_count>& failures_;
  std::size_t destination_;
  std::string host_, address_;
  std::unique_ptr<tls_connection> connection_;
  tls_ack_map acks_;
};

}  // namespace sockpush
