#include "sockpush/carbon/transport.hpp"

#include <array>

#if SOCKPUSH_TLS
#include "sockpush/carbon/tls_client.hpp"
#endif

namespace sockpush {
namespace {

/// Bytes straight to the socket.
class plain_transport final : public transport {
 public:
  explicit plain_transport(asio::ip::tcp::socket& socket) : socket_(socket) {}

  asio::awaitable<std::optional<std::string>> handshake(const bool&) override {
    co_return std::nullopt;
  }

  void write(std::string_view data, write_handler done) override {
    socket_.async_write_some(asio::buffer(data.data(), data.size()), std::move(done));
  }

  asio::awaitable<error_code> watch() override {
    std::array<char, 512> discard{};
    error_code ec;
    // carbon's line receiver never answers: this ends only with the
    // connection (or carbon sends garbage, which is read and ignored).
    while (!ec)
      co_await socket_.async_read_some(asio::buffer(discard),
                                       asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
  }

  std::size_t unacknowledged(std::size_t kernel_unacked) override { return kernel_unacked; }

 private:
  asio::ip::tcp::socket& socket_;
};

}  // namespace

transport_maker::transport_maker(const tls_config& cfg) {
#if SOCKPUSH_TLS
  if (cfg.enabled) tls_ = std::make_shared<tls_client>(cfg);
#else
  (void)cfg;  // check_tls refuses tls = true in a build without it
#endif
}

std::unique_ptr<transport> transport_maker::over(asio::ip::tcp::socket& socket,
                                                 std::size_t destination, const std::string& host,
                                                 const std::string& address) {
#if SOCKPUSH_TLS
  if (tls_)
    return std::make_unique<tls_transport>(*tls_, failures_, socket, destination, host, address);
#else
  (void)destination, (void)host, (void)address;
#endif
  return std::make_unique<plain_transport>(socket);
}

}  // namespace sockpush
