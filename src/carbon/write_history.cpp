#include "sockpush/carbon/write_history.hpp"

namespace sockpush {

write_history::write_history(std::size_t cap_bytes) : cap_(cap_bytes) {}

void write_history::mark_write(clock::time_point at) {
  marks_.emplace_back(at, end_);
}

void write_history::add(std::string&& written) {
  end_ += written.size();
  bytes_ += written.size();
  batches_.push_back(std::move(written));
  while (batches_.size() > 1 && bytes_ - batches_.front().size() >= cap_) {
    begin_ += batches_.front().size();
    bytes_ -= batches_.front().size();
    spare_ = std::move(batches_.front());
    batches_.pop_front();
  }
  // The newest write that left keeps its mark: a replay window reaching
  // back to it must learn that bytes it wants are gone.
  while (marks_.size() > 1 && marks_[1].second < begin_) marks_.pop_front();
}

std::uint64_t write_history::first_written_since(clock::time_point t) const {
  for (const auto& [when, byte] : marks_)
    if (when >= t) return byte;
  return end_;
}

std::optional<write_history::clock::time_point> write_history::written_at(
    std::uint64_t byte) const {
  std::optional<clock::time_point> at;
  for (const auto& [when, first] : marks_) {
    if (first > byte) break;
    at = when;
  }
  return at;
}

std::string write_history::lines_from(std::uint64_t from) const {
  std::string all;
  all.reserve(bytes_);
  for (const auto& batch : batches_) all += batch;
  const std::string_view kept(all);
  const auto pos = static_cast<std::size_t>(from < begin_ ? 0 : from - begin_);
  // From the start of the line holding byte `from`: a line is re-sent whole.
  auto start = pos == 0 ? std::string_view::npos : kept.rfind('\n', pos - 1);
  start = start == std::string_view::npos ? 0 : start + 1;
  const auto last = kept.rfind('\n');
  if (last == std::string_view::npos || last + 1 <= start) return {};
  return std::string(kept.substr(start, last + 1 - start));
}

void write_history::clear() {
  batches_.clear();
  bytes_ = 0;
  begin_ = end_;
  marks_.clear();
}

std::string write_history::take_spare() {
  std::string spare = std::move(spare_);
  spare_.clear();
  spare.clear();
  return spare;
}

}  // namespace sockpush
