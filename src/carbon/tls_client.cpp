#include "sockpush/carbon/tls_client.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

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

std::unique_ptr<tls_stream> tls_client::stream_for(asio::ip::tcp::socket& socket,
                                                   std::size_t destination,
                                                   const std::string& host) {
  auto stream = std::make_unique<tls_stream>(socket, context_);
  SSL* ssl = stream->native_handle();
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
  return stream;
}

void tls_client::keep_session(tls_stream& stream, std::size_t destination) {
  SSL_SESSION* session = SSL_get1_session(stream.native_handle());
  if (!session) return;
  if (SSL_SESSION_is_resumable(session))
    sessions_[destination].reset(session);
  else
    SSL_SESSION_free(session);
}

std::pair<tls_failure, std::string> tls_client::explain(tls_stream& stream,
                                                        const error_code& ec) const {
  const long verified = SSL_get_verify_result(stream.native_handle());
  if (cfg_.verify && verified != X509_V_OK)
    return {classify(verified), fmt::format("certificate verification failed: {}",
                                            X509_verify_cert_error_string(verified))};
  return {tls_failure::handshake, ec.message()};
}

}  // namespace sockpush
