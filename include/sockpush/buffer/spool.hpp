// The shutdown spool: lines still undelivered when the shutdown deadline
// passes (carbon unreachable at SIGTERM) are written once, at exit, to one
// file in the state directory, and loaded first at the next start. Nothing
// is written while running: routers keep their state on flash.
//
// File: "sockpush-spool 1 <bytes> <crc32 hex>\n" then the lines. Written to
// a temporary name, fsync'ed and renamed, so a crash leaves either the old
// spool or the new one. A file that does not check out is reported, kept as
// spool.corrupt for inspection, and skipped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sockpush {

class spool {
 public:
  /// An empty directory disables the spool.
  explicit spool(std::string directory);

  bool enabled() const { return !directory_.empty(); }
  const std::string& path() const { return path_; }

  /// Writes `lines` (whole lines). Returns an empty string or what failed.
  std::string save(std::string_view lines) const;

  /// Reads and removes the spool; empty if there is none or it is corrupt
  /// (which is logged).
  std::string take() const;

 private:
  std::string directory_;
  std::string path_;
};

/// CRC-32 (the zlib/PNG polynomial).
std::uint32_t crc32(std::string_view data);

}  // namespace sockpush
