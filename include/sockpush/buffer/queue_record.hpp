// One record of the outage queue's segment files: whole lines, framed so
// that a torn write, a power cut's zeros or erased flash (0xFF) is told
// apart from data.
//
//   "SPQ1" | payload bytes (u32) | lines (u32) | written at, unix s (i64)
//   | CRC-32 of everything before it and of the payload (u32) | payload
//
// Integers are little-endian whatever the CPU, so a USB stick moves between
// a MIPS router and a PC. Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sockpush {

inline constexpr std::size_t record_header_bytes = 24;

struct record_header {
  std::uint32_t payload_bytes = 0;
  std::uint32_t lines = 0;
  std::int64_t written_at = 0;  ///< unix seconds, for the queue's oldest_age
  std::uint32_t crc = 0;
};

/// CRC-32 (the zlib/PNG polynomial) of `first` followed by `second`.
std::uint32_t crc32(std::string_view first, std::string_view second = {});

/// Header and payload of a record holding `lines` (whole lines, `line_count` of them).
std::string encode_record(std::string_view lines, std::uint32_t line_count,
                          std::int64_t written_at);

/// The header at the start of `bytes` (at least record_header_bytes), or
/// nullopt when it cannot be one: wrong magic, an empty or oversized payload,
/// more lines than bytes. The CRC is checked against the payload later.
std::optional<record_header> parse_record_header(std::string_view bytes,
                                                 std::size_t max_payload_bytes);

/// The payload belongs to the header: its CRC matches, it ends with '\n'
/// and holds as many lines as the header says.
bool payload_matches(std::string_view header_bytes, const record_header& header,
                     std::string_view payload);

}  // namespace sockpush
