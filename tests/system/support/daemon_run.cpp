#include "support/daemon_run.hpp"

#include <doctest/doctest.h>
#include <signal.h>

namespace test {
namespace {

bool enter(network where) {
  if (where == network::private_namespace) {
    const auto why = enter_private_network_namespace();
    REQUIRE_MESSAGE(why.empty(), why);
  }
  return true;
}

}  // namespace

daemon_run::daemon_run(network where) : entered_(enter(where)) {}

std::string daemon_run::config(const std::string& toml) const {
  const auto path = dir / "sockpush.toml";
  write_file(path, toml);
  return path;
}

line_sink& daemon_run::sink() {
  if (!sink_) sink_.emplace(dir / "sink");
  return *sink_;
}

child& daemon_run::start(const daemon_options& options, const std::string& stdout_file) {
  daemon_ = std::make_unique<child>(daemon_command(options), stdout_file, dir / "log");
  return *daemon_;
}

bool daemon_run::received(const std::string& suffix, std::size_t count,
                          std::chrono::milliseconds limit) {
  return wait_until([&] { return metric(sink().data(), suffix).values.size() >= count; }, limit);
}

int daemon_run::stop(std::chrono::milliseconds limit) {
  daemon_->signal(SIGTERM);
  return daemon_->wait(limit);
}

}  // namespace test
