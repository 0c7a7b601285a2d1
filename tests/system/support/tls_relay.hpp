// carbon-c-relay (Debian's, built with OpenSSL) as the TLS end of carbon in
// the TLS tests: it terminates TLS on 127.0.0.1 with a certificate the test
// made (support/make-certs) and forwards every line in plaintext to another
// loopback port, a carbon-cache or a line sink.
#pragma once

#include <memory>
#include <string>

#include "support/process.hpp"

namespace test {

/// support/make-certs run in `dir`: CAs, server certificates good and bad.
void make_certificates(const std::string& dir);

class tls_relay {
 public:
  /// Listens with `certificate_pem` (certificate and key, PEM) on a free
  /// port and forwards to 127.0.0.1:`forward_port`; files under `dir`.
  tls_relay(const std::string& dir, const std::string& certificate_pem, unsigned forward_port);
  ~tls_relay();
  tls_relay(const tls_relay&) = delete;
  tls_relay& operator=(const tls_relay&) = delete;

  /// Starts it (again, on the same port) and waits until it listens.
  void start();
  /// SIGKILL: what it had received and not yet forwarded is gone.
  void kill();
  unsigned port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const;

 private:
  std::string dir_;
  unsigned port_ = 0;
  std::unique_ptr<child> process_;
};

}  // namespace test
