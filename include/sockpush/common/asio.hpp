// One place that pulls in Boost.Asio the way this project uses it.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

// clang 14 does not announce coroutine support to Boost 1.74; g++ 12 does.
#if defined(__clang__) && !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#define BOOST_ASIO_HAS_STD_COROUTINE 1
#endif

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <exception>

namespace sockpush {
namespace asio = boost::asio;
using boost::system::error_code;

/// Completion handler for co_spawn: an exception escapes from io_context::run()
/// instead of vanishing with the coroutine, as it would with `detached`.
inline void rethrow_if_failed(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

}  // namespace sockpush
