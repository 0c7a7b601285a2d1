#include "sockpush/buffer/queue_record.hpp"

#include <boost/crc.hpp>

#include <type_traits>

#include "sockpush/buffer/line_buffer.hpp"

namespace sockpush {
namespace {

constexpr std::string_view magic = "SPQ1";
constexpr std::size_t crc_offset = record_header_bytes - 4;

template <typename Int>
void put_le(std::string& out, Int value) {
  auto u = static_cast<std::make_unsigned_t<Int>>(value);
  for (std::size_t i = 0; i < sizeof(Int); ++i)
    out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

template <typename Int>
Int get_le(std::string_view bytes, std::size_t at) {
  std::make_unsigned_t<Int> u = 0;
  for (std::size_t i = 0; i < sizeof(Int); ++i)
    u |= static_cast<std::make_unsigned_t<Int>>(static_cast<unsigned char>(bytes[at + i]))
         << (8 * i);
  return static_cast<Int>(u);
}

std::uint32_t record_crc(std::string_view header_bytes, std::string_view payload) {
  return crc32(header_bytes.substr(0, crc_offset), payload);
}

}  // namespace

std::uint32_t crc32(std::string_view first, std::string_view second) {
  boost::crc_32_type crc;
  crc.process_bytes(first.data(), first.size());
  crc.process_bytes(second.data(), second.size());
  return crc.checksum();
}

std::string encode_record(std::string_view lines, std::uint32_t line_count,
                          std::int64_t written_at) {
  std::string out;
  out.reserve(record_header_bytes + lines.size());
  out.append(magic);
  put_le(out, static_cast<std::uint32_t>(lines.size()));
  put_le(out, line_count);
  put_le(out, written_at);
  put_le(out, record_crc(out, lines));
  out.append(lines);
  return out;
}

std::optional<record_header> parse_record_header(std::string_view bytes,
                                                 std::size_t max_payload_bytes) {
  if (bytes.size() < record_header_bytes || bytes.substr(0, magic.size()) != magic)
    return std::nullopt;
  record_header h;
  h.payload_bytes = get_le<std::uint32_t>(bytes, 4);
  h.lines = get_le<std::uint32_t>(bytes, 8);
  h.written_at = get_le<std::int64_t>(bytes, 12);
  h.crc = get_le<std::uint32_t>(bytes, crc_offset);
  if (h.payload_bytes == 0 || h.payload_bytes > max_payload_bytes || h.lines == 0 ||
      h.lines > h.payload_bytes)
    return std::nullopt;
  return h;
}

bool payload_matches(std::string_view header_bytes, const record_header& header,
                     std::string_view payload) {
  return payload.size() == header.payload_bytes &&
         record_crc(header_bytes, payload) == header.crc && payload.back() == '\n' &&
         count_lines(payload) == header.lines;
}

}  // namespace sockpush
