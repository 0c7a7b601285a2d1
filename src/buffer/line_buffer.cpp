#include "sockpush/buffer/line_buffer.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace sockpush {

std::size_t count_lines(std::string_view text) {
  // Byte-sized counters over blocks of 255 bytes vectorise to full-width
  // compares; std::count widens every byte to 64 bits and runs ~4x slower,
  // which showed up as a quarter of `sockpush send`'s CPU.
  constexpr std::size_t block = 255;
  std::size_t n = 0;
  const char* p = text.data();
  std::size_t left = text.size();
  while (left >= block) {
    unsigned char in_block = 0;
    for (std::size_t i = 0; i < block; ++i)
      in_block = static_cast<unsigned char>(in_block + (p[i] == '\n'));
    n += in_block;
    p += block;
    left -= block;
  }
  for (std::size_t i = 0; i < left; ++i) n += p[i] == '\n';
  return n;
}

line_buffer::line_buffer(std::size_t max_bytes) : max_bytes_(max_bytes) {}

void line_buffer::spill_to(overflow_sink* sink, std::size_t block_bytes) {
  sink_ = sink;
  spill_block_ = block_bytes;
}

void line_buffer::overflow(std::string_view lines, std::size_t line_count) {
  if (sink_)
    sink_->spill(lines, line_count);
  else
    dropped_lines_ += line_count;
}

void line_buffer::make_room(std::size_t incoming) {
  if (bytes() + incoming <= max_bytes_) return;
  std::size_t must_free = bytes() + incoming - max_bytes_;
  if (sink_) must_free = std::max(must_free, spill_block_);
  std::string_view held(data_.data() + head_, bytes());
  std::size_t cut = 0;
  std::size_t dropped = 0;
  while (cut < must_free && cut < held.size()) {
    auto nl = held.find('\n', cut);
    cut = nl + 1;  // held always ends with '\n'
    ++dropped;
  }
  overflow(held.substr(0, cut), dropped);
  head_ += cut;
  front_position_ += cut;
  lines_ -= dropped;
  compact();
}

void line_buffer::push(std::string_view text) {
  push(text, count_lines(text));
}

void line_buffer::push(std::string_view text, std::size_t line_count) {
  assert(text.empty() || text.back() == '\n');
  assert(line_count == count_lines(text));
  if (text.size() > max_bytes_) {
    // Keep only the newest lines of the incoming text, starting at the first
    // line boundary from which the rest fits on its own.
    std::size_t start = text.size() - max_bytes_;
    std::size_t keep_from = text[start - 1] == '\n' ? start : text.find('\n', start) + 1;
    // All that is held is older than the incoming lines: it leaves first.
    make_room(max_bytes_);
    auto dropped = count_lines(text.substr(0, keep_from));
    overflow(text.substr(0, keep_from), dropped);
    front_position_ += keep_from;
    line_count -= dropped;
    text = text.substr(keep_from);
  }
  make_room(text.size());
  data_.append(text);
  lines_ += line_count;
}

void line_buffer::absorb(std::string& text, std::size_t line_count) {
  if (empty() && text.size() <= max_bytes_) {
    assert(text.empty() || text.back() == '\n');
    assert(line_count == count_lines(text));
    // The caller's string becomes the buffer; the caller keeps the old
    // (empty) storage for its next batch.
    data_.clear();
    data_.swap(text);
    head_ = 0;
    lines_ = line_count;
    return;
  }
  push(text, line_count);
  text.clear();
}

std::size_t line_buffer::take(std::string& out, std::size_t max_bytes) {
  if (empty()) return 0;
  if (out.empty() && head_ == 0 && data_.size() <= max_bytes) {
    // All of it, without a copy.
    out.swap(data_);
    data_.clear();
    front_position_ += out.size();
    auto n = lines_;
    lines_ = 0;
    return n;
  }
  std::string_view held(data_.data() + head_, bytes());
  std::size_t end = 0;
  if (held.size() <= max_bytes) {
    end = held.size();
  } else {
    auto nl = held.rfind('\n', max_bytes - 1);
    end = (nl == std::string_view::npos) ? held.find('\n') + 1 : nl + 1;
  }
  auto moved = held.substr(0, end);
  std::size_t n = (end == held.size()) ? lines_ : count_lines(moved);
  out.append(moved);
  head_ += end;
  front_position_ += end;
  lines_ -= n;
  compact();
  return n;
}

void line_buffer::put_back(std::string_view text) {
  assert(text.empty() || text.back() == '\n');
  if (text.empty()) return;
  std::size_t n = count_lines(text);
  front_position_ -= std::min<std::uint64_t>(front_position_, text.size());
  if (text.size() <= head_) {
    head_ -= text.size();
    std::memcpy(data_.data() + head_, text.data(), text.size());
  } else {
    data_.replace(0, head_, text);
    head_ = 0;
  }
  lines_ += n;
  // Over the cap, the put-back lines are the oldest, so they go first.
  make_room(0);
}

std::size_t line_buffer::clear() {
  std::size_t n = lines_;
  front_position_ += bytes();
  data_.clear();
  head_ = 0;
  lines_ = 0;
  return n;
}

void line_buffer::compact() {
  if (head_ == data_.size()) {
    data_.clear();
    head_ = 0;
  } else if (head_ > 64 * 1024 && head_ > data_.size() / 2) {
    // Moving the tail is cheaper than the memory a dead prefix would hold.
    data_.erase(0, head_);
    head_ = 0;
  }
}

}  // namespace sockpush
