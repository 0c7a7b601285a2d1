// The rules for the Graphite metric names sockpush builds itself.
#pragma once

#include <string>
#include <string_view>

namespace sockpush {

/// Replaces every character that is not [A-Za-z0-9_-] with '_', so that a
/// host name or address becomes exactly one Graphite path component.
std::string sanitize_path_component(std::string_view text);

/// The host's short name (up to the first dot), sanitised; "unknown" if the
/// kernel has none.
std::string short_hostname();

/// Expands the prefix template. `{host}` is the only placeholder. Throws
/// std::invalid_argument naming the problem for an unknown placeholder, an
/// unbalanced brace, an empty result or characters Graphite paths cannot hold.
std::string expand_prefix(std::string_view templ, std::string_view host);
}  // namespace sockpush
