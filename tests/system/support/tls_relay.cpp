#include "support/tls_relay.hpp"

#include <doctest/doctest.h>
#include <signal.h>

using namespace std::chrono_literals;

namespace test {

void make_certificates(const std::string& dir) {
  int rc = 0;
  const auto out = run_capture(
      std::string(SOCKPUSH_SOURCE_DIR) + "/tests/system/support/make-certs " + dir + " 2>&1", &rc);
  REQUIRE_MESSAGE(rc == 0, "make-certs failed: " << out);
}

tls_relay::tls_relay(const std::string& dir, const std::string& certificate_pem,
                     unsigned forward_port)
    : dir_(dir), port_(unused_port()) {
  write_file(dir_ + "/relay.conf",
             "cluster carbon forward 127.0.0.1:" + std::to_string(forward_port) +
                 ";\nmatch * send to carbon;\n"
                 "listen type linemode transport plain ssl " +
                 certificate_pem + " 127.0.0.1:" + std::to_string(port_) + " proto tcp;\n");
  start();
}

tls_relay::~tls_relay() {
  if (process_) kill();
}

void tls_relay::start() {
  // -s: no statistics of its own in the stream; -w 1: one worker.
  process_ = std::make_unique<child>(std::vector<std::string>{"/usr/bin/carbon-c-relay", "-f",
                                                              dir_ + "/relay.conf", "-s", "-w", "1",
                                                              "-l", dir_ + "/relay.log"});
  const bool listening = wait_until(
      [&] { return run_capture("ss -Hltn 'sport = :" + std::to_string(port_) + "'").size() > 0; },
      10000ms);
  REQUIRE_MESSAGE(listening, "carbon-c-relay did not start: " << log());
}

void tls_relay::kill() {
  process_->signal(SIGKILL);
  process_->wait(5000ms);
  process_.reset();
}

std::string tls_relay::log() const {
  return read_file(dir_ + "/relay.log");
}

}  // namespace test
