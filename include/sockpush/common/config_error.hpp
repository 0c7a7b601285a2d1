// The one exception for what a user configured wrong, whichever part finds
// it (a key in the file, a flag, a listen address): the message names what
// was wrong and where, and main() turns it into exit code 2.
#pragma once

#include <stdexcept>

namespace sockpush {

class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sockpush
