// std::visit with one lambda per alternative: overloaded{[](const A&) {...}, ...}.
#pragma once

namespace sockpush {

template <typename... Handlers>
struct overloaded : Handlers... {
  using Handlers::operator()...;
};
template <typename... Handlers>
overloaded(Handlers...) -> overloaded<Handlers...>;

}  // namespace sockpush
