#include "sockpush/carbon/tls_client.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <array>
#include <boost/asio/ssl/error.hpp>
#include <new>

#include "sockpush/common/config_error.hpp"

namespace sockpush {
namespace {

namespace ssl = asio::ssl;

/// OpenSSL's reason for the last failure, for a config error.
std::string openssl_reason(const boost::system::system_error& e) {
  const auto code = ERR_get_error();
  ERR_clear_error();
  return code ? ERR_reason_error_string(code) ? ERR_reason_error_string(code) : e.what() : e.what();
}

template <typename Load>
void load(const std::string& key, const std::string& file, Load load_it) {
  try {
    load_it();
  } catch (const boost::system::system_error& e) {
    throw config_error(fmt::format("carbon.{} '{}': {}", key, file, openssl_reason(e)));
  }
}

bool is_ip_address(const std::string& host) {
  unsigned char ignored[16];
  return inet_pton(AF_INET, host.c_str(), ignored) == 1 ||
         inet_pton(AF_INET6, host.c_str(), ignored) == 1;
}

tls_failure classify(long verify_result) {
  switch (verify_result) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return tls_failure::unknown_ca;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return tls_failure::name_mismatch;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return tls_failure::expired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return tls_failure::not_yet_valid;
    default:
      return tls_failure::bad_certificate;
  }
}

}  // namespace

tls_client::tls_client(const tls_config& cfg) : cfg_(cfg), context_(ssl::context::tls_client) {
  SSL_CTX* ctx = context_.native_handle();
  SSL_CTX_set_min_proto_version(ctx, cfg.min_version);
  if (!cfg.verify) {
    context_.set_verify_mode(ssl::verify_none);
  } else {
    context_.set_verify_mode(ssl::verify_peer);
    if (cfg.ca_file.empty())
      load("tls_ca_file", "(the system's trust store)",
           [&] { context_.set_default_verify_paths(); });
    else
      load("tls_ca_file", cfg.ca_file, [&] { context_.load_verify_file(cfg.ca_file); });
  }
  if (!cfg.cert_file.empty()) {
    load("tls_cert_file", cfg.cert_file,
         [&] { context_.use_certificate_chain_file(cfg.cert_file); });
    load("tls_key_file", cfg.key_file,
         [&] { context_.use_private_key_file(cfg.key_file, ssl::context::pem); });
    if (SSL_CTX_check_private_key(ctx) != 1)
      throw config_error(fmt::format("carbon.tls_key_file '{}' is not the key of '{}'",
                                     cfg.key_file, cfg.cert_file));
  }
}

tls_client::~tls_client() = default;

std::unique_ptr<tls_connection> tls_client::connect(asio::ip::tcp::socket& socket,
                                                    std::size_t destination,
                                                    const std::string& host) {
  SSL* ssl = SSL_new(context_.native_handle());
  if (!ssl) throw std::bad_alloc();
  auto connection = std::make_unique<tls_connection>(ssl, socket);
  SSL_set_connect_state(ssl);
  const auto& name = cfg_.server_name.empty() ? host : cfg_.server_name;
  // SSL_set_tlsext_host_name(), without the macro's C cast.
  if (!is_ip_address(name))
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(name.c_str()));
  if (cfg_.verify) {
    if (is_ip_address(name))
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    else
      SSL_set1_host(ssl, name.c_str());
  }
  if (auto kept = sessions_.find(destination); kept != sessions_.end())
    SSL_set_session(ssl, kept->second.get());
  return connection;
}

void tls_client::keep_session(const tls_connection& connection, std::size_t destination) {
  SSL_SESSION* session = SSL_get1_session(connection.native_handle());
  if (!session) return;
  if (SSL_SESSION_is_resumable(session))
    sessions_[destination].reset(session);
  else
    SSL_SESSION_free(session);
}

std::pair<tls_failure, std::string> tls_client::explain(const tls_connection& connection,
                                                        const error_code& ec) const {
  const long verified = SSL_get_verify_result(connection.native_handle());
  if (cfg_.verify && verified != X509_V_OK)
    return {classify(verified), fmt::format("certificate verification failed: {}",
                                            X509_verify_cert_error_string(verified))};
  return {tls_failure::handshake, ec.message()};
}

namespace {

/// Lines encrypted per write, one record per 16 KiB: sent with as few sends
/// as the socket allows, progress told record by record.
constexpr std::size_t plaintext_per_write = 256 * 1024;
constexpr std::size_t record_plaintext = 16 * 1024;

}  // namespace

tls_connection::tls_connection(SSL* ssl, asio::ip::tcp::socket& socket)
    : ssl_(ssl),
      from_network_(BIO_new(BIO_s_mem())),
      to_network_(BIO_new(BIO_s_mem())),
      socket_(socket) {
  if (!from_network_ || !to_network_) throw std::bad_alloc();
  // An empty memory BIO asks to be retried rather than reporting its end.
  BIO_set_mem_eof_return(from_network_, -1);
  SSL_set_bio(ssl_, from_network_, to_network_);  // the SSL owns them now
}

tls_connection::~tls_connection() {
  SSL_free(ssl_);
}

error_code tls_connection::failure(int result) const {
  const int kind = SSL_get_error(ssl_, result);
  if (kind == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  const auto code = ERR_get_error();
  ERR_clear_error();
  // No OpenSSL error: the peer closed the TCP connection mid-handshake.
  if (code == 0) return asio::ssl::error::stream_truncated;
  return error_code(static_cast<int>(code), asio::error::get_ssl_category());
}

void tls_connection::drain_output() {
  // BIO_read, not BIO_get_mem_data and BIO_reset: a reset clears the whole
  // buffer with memset every time.
  const auto size = BIO_ctrl_pending(to_network_);
  if (size == 0) return;
  const auto at = pending_.size();
  pending_.resize(at + size);
  const int n = BIO_read(to_network_, pending_.data() + at, static_cast<int>(size));
  pending_.resize(at + static_cast<std::size_t>(std::max(n, 0)));
}

asio::awaitable<error_code> tls_connection::handshake() {
  std::array<char, 16 * 1024> incoming{};
  for (;;) {
    const int result = SSL_do_handshake(ssl_);
    drain_output();
    if (!pending_.empty()) {
      error_code ec;
      const auto n = co_await asio::async_write(socket_, asio::buffer(pending_),
                                                asio::redirect_error(asio::use_awaitable, ec));
      written_ += n;
      ciphertext_of_whole_ = written_;
      pending_.clear();
      if (ec) co_return ec;
    }
    if (result == 1) co_return error_code{};
    if (SSL_get_error(ssl_, result) != SSL_ERROR_WANT_READ) co_return failure(result);
    error_code ec;
    const auto n = co_await socket_.async_read_some(asio::buffer(incoming),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
    BIO_write(from_network_, incoming.data(), static_cast<int>(n));
  }
}

void tls_connection::write(std::string_view plaintext,
                           std::function<void(const error_code&, std::size_t)> done) {
  // Records already encrypted and not yet all written are the start of
  // `plaintext`: they are sent on, not encrypted again.
  if (records_.empty()) {
    std::size_t taken = 0;
    while (taken < std::min(plaintext.size(), plaintext_per_write)) {
      const auto size = std::min(plaintext.size() - taken, record_plaintext);
      const int result = SSL_write(ssl_, plaintext.data() + taken, static_cast<int>(size));
      if (result <= 0) {
        if (taken > 0) break;
        asio::post(socket_.get_executor(),
                   [done = std::move(done), ec = failure(result)] { done(ec, 0); });
        return;
      }
      taken += size;
      drain_output();
      records_.push_back(record{size, pending_.size()});
    }
  }
  send_pending(std::move(done));
}

void tls_connection::send_pending(std::function<void(const error_code&, std::size_t)> done) {
  socket_.async_write_some(
      asio::buffer(pending_.data() + sent_, pending_.size() - sent_),
      [this, done = std::move(done)](const error_code& ec, std::size_t n) mutable {
        sent_ += n;
        written_ += n;
        std::size_t whole = 0;
        while (!records_.empty() && records_.front().ciphertext_end <= sent_) {
          whole += records_.front().plaintext;
          ciphertext_of_whole_ = written_ - (sent_ - records_.front().ciphertext_end);
          records_.pop_front();
        }
        if (records_.empty() && sent_ == pending_.size()) {
          pending_.clear();
          sent_ = 0;
        }
        // Progress is told in whole records: a part of one is no line yet.
        if (!ec && whole == 0) return send_pending(std::move(done));
        done(ec, whole);
      });
}

asio::awaitable<error_code> tls_connection::watch() {
  std::array<char, 4096> incoming{};
  for (;;) {
    error_code ec;
    const auto n = co_await socket_.async_read_some(asio::buffer(incoming),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
    BIO_write(from_network_, incoming.data(), static_cast<int>(n));
    // carbon sends no data; this takes in tickets, and sees alerts and
    // close_notify. (A reply OpenSSL owes, such as to a key update, goes
    // out with the next write.)
    for (;;) {
      const int result = SSL_read(ssl_, incoming.data(), static_cast<int>(incoming.size()));
      if (result > 0) continue;
      if (SSL_get_error(ssl_, result) == SSL_ERROR_WANT_READ) break;
      co_return failure(result);
    }
  }
}

tls_transport::tls_transport(tls_client& client,
                             counts_by<tls_failure, tls_failure_count>& failures,
                             asio::ip::tcp::socket& socket, std::size_t destination,
                             std::string host, std::string address)
    : client_(client),
      failures_(failures),
      destination_(destination),
      host_(std::move(host)),
      address_(std::move(address)),
      connection_(client.connect(socket, destination, host_)) {}

asio::awaitable<std::optional<std::string>> tls_transport::handshake(const bool& timed_out) {
  const auto ec = co_await connection_->handshake();
  if (!ec && !timed_out) co_return std::nullopt;
  auto [failure, why] = timed_out ? std::pair{tls_failure::handshake,
                                              std::string("timed out (carbon.connect_timeout)")}
                                  : client_.explain(*connection_, ec);
  ++failures_[failure];
  // Nothing was sent: the lines stay buffered for a connection that verifies.
  co_return fmt::format("TLS handshake with {} ({}) failed: {}", host_, address_, why);
}

void tls_transport::write(std::string_view data, write_handler done) {
  connection_->write(data, [this, done = std::move(done)](const error_code& ec, std::size_t n) {
    acks_.wrote(n, connection_->ciphertext_reported());
    done(ec, n);
  });
}

std::size_t tls_transport::unacknowledged(std::size_t kernel_unacked) {
  // Plaintext counts as acknowledged only once all of its ciphertext is.
  return static_cast<std::size_t>(
      acks_.plaintext_unacked(static_cast<int>(std::min<std::size_t>(kernel_unacked, 0x7fffffff)),
                              connection_->ciphertext_written()));
}

void tls_transport::describe(connection_info& info) const {
  info.tls = true;
  info.tls_resumed = SSL_session_reused(connection_->native_handle()) == 1;
}

}  // namespace sockpush
