// The shutdown spool of sockpush 0.1 (one file, "spool", in the state
// directory), read once at start and handed to the outage queue, which
// replaced it.
//
// File: "sockpush-spool 1 <bytes> <crc32 hex>\n" then the lines. A file
// that does not check out is reported, kept as spool.corrupt for
// inspection, and skipped.
#pragma once

#include <string>

namespace sockpush {

/// The lines of `directory`/spool, removing it; empty if there is none or it
/// is corrupt (which is logged).
std::string take_old_spool(const std::string& directory);

}  // namespace sockpush
