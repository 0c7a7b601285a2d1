#include "sockpush/buffer/outage_queue.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/buffer/queue_record.hpp"

namespace sockpush {
namespace {

constexpr std::string_view name_prefix = "queue-";
constexpr std::string_view name_suffix = ".seg";
constexpr std::size_t number_digits = 16;

/// The segment number in a file name of ours; nullopt for anything else.
std::optional<std::uint64_t> segment_number(std::string_view name) {
  if (name.size() != name_prefix.size() + number_digits + name_suffix.size() ||
      name.substr(0, name_prefix.size()) != name_prefix ||
      name.substr(name.size() - name_suffix.size()) != name_suffix)
    return std::nullopt;
  std::uint64_t n = 0;
  for (char c : name.substr(name_prefix.size(), number_digits)) {
    int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (digit < 0) return std::nullopt;
    n = n * 16 + static_cast<std::uint64_t>(digit);
  }
  return n;
}

template <typename Time>
std::optional<Time> earliest(std::optional<Time> a, std::optional<Time> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

}  // namespace

std::uint64_t outage_queue::segment::lines_from(std::size_t record) const {
  std::uint64_t n = 0;
  for (auto i = record; i < records.size(); ++i) n += records[i].lines;
  return n;
}

outage_queue::outage_queue(queue_files& files, outage_queue_settings settings,
                           clock::time_point now)
    : files_(files), settings_(settings) {
  recover(now);
}

std::string outage_queue::segment_name(std::uint64_t number) const {
  return fmt::format("{}{:016x}{}", name_prefix, number, name_suffix);
}

void outage_queue::recover(clock::time_point now) {
  std::vector<queue_files::entry> entries;
  if (int error = files_.list(entries)) {
    fail(error, "cannot list the queue directory", now);
    return;
  }
  for (const auto& e : entries)
    if (auto number = segment_number(e.name))
      segments_.emplace_back(*number, e.name, e.bytes, true);
  std::sort(segments_.begin(), segments_.end(),
            [](const segment& a, const segment& b) { return a.number < b.number; });
  for (std::size_t i = 0; i < segments_.size(); ++i)
    recover_segment(segments_[i], i + 1 == segments_.size());
  std::uint64_t lines = 0;
  for (const auto& s : segments_) {
    bytes_ += s.bytes;
    lines += s.lines_from(0);
  }
  next_number_ = segments_.empty() ? 0 : segments_.back().number + 1;
  if (!segments_.empty())
    spdlog::info("outage queue: {} lines in {} segments ({} bytes) from an earlier run", lines,
                 segments_.size(), bytes_);
}

void outage_queue::recover_segment(segment& s, bool last) {
  std::uint64_t offset = 0;
  std::string header;
  while (offset < s.bytes) {
    const auto left = s.bytes - offset;
    if (files_.read_at(s.name, offset, record_header_bytes, header) != 0) break;
    auto h = parse_record_header(header, left - std::min<std::uint64_t>(left, record_header_bytes));
    if (!h) break;
    s.records.push_back({offset, h->payload_bytes, h->lines, h->written_at});
    offset += record_header_bytes + h->payload_bytes;
  }
  if (offset == s.bytes) return;
  if (last) {
    spdlog::info(
        "outage queue: {} ends in {} bytes that are not a whole record (a write cut "
        "short by a crash or power cut); reading up to them",
        s.name, s.bytes - offset);
    return;
  }
  // Lines behind a bad header cannot be counted exactly: their newlines are
  // the best estimate (zeros and erased flash hold none).
  std::string rest;
  files_.read_at(s.name, offset, static_cast<std::size_t>(s.bytes - offset), rest);
  const auto lost = count_lines(rest);
  stats_.dropped_corrupt += lost;
  spdlog::warn(
      "outage queue: {} has a bad record at byte {}; skipping its last {} bytes (about {} lines)",
      s.name, offset, s.bytes - offset, lost);
}

void outage_queue::append(std::string_view lines, std::size_t line_count, clock::time_point now,
                          std::int64_t wall_now) {
  if (fault_ && now < fault_->retry_at) {
    stats_.dropped_io_error += line_count;
    return;
  }
  // A record fits in a segment and holds whole lines; only a line longer
  // than a segment gets a record (and a segment) of its own.
  const auto room = static_cast<std::size_t>(
      std::max<std::uint64_t>(settings_.segment_bytes, record_header_bytes + 1) -
      record_header_bytes);
  while (!lines.empty()) {
    auto cut = lines.size();
    if (cut > room) {
      auto nl = lines.rfind('\n', room - 1);
      cut = nl == std::string_view::npos ? lines.find('\n') + 1 : nl + 1;
    }
    auto piece = lines.substr(0, cut);
    auto piece_lines = cut == lines.size() ? line_count : count_lines(piece);
    if (!append_record(piece, piece_lines, now, wall_now)) {
      stats_.dropped_io_error += line_count;
      return;
    }
    lines.remove_prefix(cut);
    line_count -= piece_lines;
  }
}

bool outage_queue::append_record(std::string_view lines, std::size_t line_count,
                                 clock::time_point now, std::int64_t wall_now) {
  const auto record = encode_record(lines, static_cast<std::uint32_t>(line_count), wall_now);
  while (!segments_.empty() && bytes_ + record.size() > settings_.max_bytes) drop_oldest(now);
  if (auto free = files_.free_bytes(); free && *free < record.size() + settings_.free_floor) {
    fail(ENOSPC, fmt::format("less than {} bytes free", record.size() + settings_.free_floor), now);
    return false;
  }
  const bool roll = segments_.empty() || segments_.back().sealed ||
                    (segments_.back().bytes > 0 &&
                     segments_.back().bytes + record.size() > settings_.segment_bytes);
  if (roll) {
    if (!segments_.empty() && !segments_.back().sealed) seal_tail();
    segments_.emplace_back(next_number_, segment_name(next_number_), 0, false);
    ++next_number_;
  }
  auto& tail = segments_.back();
  if (int error = files_.append(tail.name, record)) {
    fail(error, fmt::format("cannot write {}", tail.name), now);
    if (tail.bytes == 0) {
      files_.remove(tail.name);
      segments_.pop_back();
    }
    return false;
  }
  if (roll && !directory_dirty_since_) directory_dirty_since_ = now;
  if (!unsynced_since_) unsynced_since_ = now;
  tail.records.push_back({tail.bytes, static_cast<std::uint32_t>(lines.size()),
                          static_cast<std::uint32_t>(line_count), wall_now});
  tail.bytes += record.size();
  bytes_ += record.size();
  stats_.written_bytes += record.size();
  if (fault_) {
    spdlog::info("outage queue works again");
    fault_.reset();
  }
  return true;
}

void outage_queue::seal_tail() {
  auto& tail = segments_.back();
  tail.sealed = true;
  if (unsynced_since_) {
    sync(tail.name);
    unsynced_since_.reset();
  }
}

void outage_queue::drop_oldest(clock::time_point now) {
  auto& oldest = segments_.front();
  const auto lost = oldest.lines_from(oldest.next_read);
  stats_.dropped_full += lost;
  if (lost > 0)
    spdlog::warn("outage queue full ({} bytes): dropped its oldest segment, {} lines",
                 settings_.max_bytes, lost);
  if (!oldest.sealed) unsynced_since_.reset();
  remove_segment(oldest, now);
  segments_.pop_front();
}

void outage_queue::remove_segment(const segment& s, clock::time_point now) {
  // A failed unlink leaves a file that is read again after a restart: its
  // lines are sent twice, which carbon absorbs.
  files_.remove(s.name);
  bytes_ -= s.bytes;
  if (!directory_dirty_since_) directory_dirty_since_ = now;
}

std::optional<outage_queue::block> outage_queue::next() {
  std::string bytes;
  for (auto& s : segments_) {
    while (s.unread()) {
      if (!s.sealed) seal_tail();
      const auto& r = s.records[s.next_read];
      const std::size_t length = record_header_bytes + r.payload_bytes;
      if (int error = files_.read_at(s.name, r.offset, length, bytes);
          error || bytes.size() != length) {
        skip_rest(s, stats_.dropped_io_error,
                  error ? std::strerror(error) : "the file is shorter than its records");
        break;
      }
      const std::string_view all(bytes);
      auto header = parse_record_header(all, r.payload_bytes);
      if (!header || !payload_matches(all, *header, all.substr(record_header_bytes))) {
        skip_rest(s, stats_.dropped_corrupt, "a record does not match its checksum");
        break;
      }
      ++s.next_read;
      stats_.replayed_lines += r.lines;
      bytes.erase(0, record_header_bytes);
      return block{std::move(bytes), r.lines};
    }
  }
  return std::nullopt;
}

void outage_queue::skip_rest(segment& s, std::uint64_t& counter, std::string_view why) {
  const auto lost = s.lines_from(s.next_read);
  counter += lost;
  spdlog::warn("outage queue: {} at byte {}: {}; skipping the rest of it ({} lines)", s.name,
               s.records[s.next_read].offset, why, lost);
  s.next_read = s.records.size();
}

bool outage_queue::has_unread() const {
  return std::any_of(segments_.begin(), segments_.end(),
                     [](const segment& s) { return s.unread(); });
}

std::uint64_t outage_queue::unread_lines() const {
  std::uint64_t n = 0;
  for (const auto& s : segments_) n += s.lines_from(s.next_read);
  return n;
}

std::optional<std::int64_t> outage_queue::oldest_written_at() const {
  for (const auto& s : segments_)
    if (s.unread()) return s.records[s.next_read].written_at;
  return std::nullopt;
}

void outage_queue::handed_out_up_to(std::uint64_t position) {
  for (auto& s : segments_) {
    if (s.unread()) break;
    if (!s.delivered_at) s.delivered_at = position;
  }
}

void outage_queue::release(std::uint64_t delivered_position, clock::time_point now) {
  while (!segments_.empty() && segments_.front().delivered_at &&
         *segments_.front().delivered_at <= delivered_position) {
    remove_segment(segments_.front(), now);
    segments_.pop_front();
  }
}

bool outage_queue::awaits_release() const {
  return !segments_.empty() && segments_.front().delivered_at.has_value();
}

void outage_queue::sync(const std::string& name) {
  ++stats_.fsyncs;
  if (int error = files_.sync(name))
    spdlog::warn("outage queue: fdatasync of {} failed: {}", name, std::strerror(error));
}

std::optional<outage_queue::clock::time_point> outage_queue::next_due() const {
  auto due = earliest(unsynced_since_, directory_dirty_since_);
  if (due) *due += settings_.sync_interval;
  return due;
}

void outage_queue::tick(clock::time_point now) {
  if (auto due = next_due(); due && now >= *due) sync_now();
}

void outage_queue::sync_now() {
  if (unsynced_since_ && !segments_.empty()) sync(segments_.back().name);
  unsynced_since_.reset();
  if (directory_dirty_since_) {
    ++stats_.fsyncs;
    files_.sync_directory();
    directory_dirty_since_.reset();
  }
}

void outage_queue::fail(int error, std::string_view doing, clock::time_point now) {
  const bool first = !fault_;
  fault_ = fault{error, now + settings_.retry_interval};
  if (first)
    spdlog::warn(
        "outage queue: {}: {}; keeping lines in memory only (and dropping the oldest "
        "when it is full) until it works again, tried every {} s",
        doing, std::strerror(error), settings_.retry_interval.count() / 1000);
}

}  // namespace sockpush
