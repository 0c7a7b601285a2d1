// The outage queue against an in-memory directory: format, recovery from
// torn tails, garbage, bit flips and power cuts, the size bound, faults and
// the sync policy. Every case checks that what comes back out is exactly
// what went in, minus what is counted as dropped.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "memory_queue_files.hpp"
#include "sockpush/buffer/line_buffer.hpp"
#include "sockpush/buffer/outage_queue.hpp"
#include "sockpush/buffer/queue_record.hpp"

using namespace sockpush;
using namespace std::chrono_literals;
using test::memory_queue_files;
using op = memory_queue_files::op;

namespace {

const outage_queue::clock::time_point t0{};
constexpr std::int64_t wall = 1'700'000'000;

/// `n` distinct lines named after `tag`.
std::string lines(const std::string& tag, int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out += tag + "." + std::to_string(i) + " " + std::to_string(i) + " 1700000000\n";
  return out;
}

outage_queue_settings small(std::uint64_t segment = 4096, std::uint64_t max = 64 << 10) {
  outage_queue_settings s;
  s.segment_bytes = segment;
  s.max_bytes = max;
  s.sync_interval = 10s;
  s.free_floor = 0;
  s.retry_interval = 30s;
  return s;
}

/// Everything the queue hands out, in order.
std::string drain(outage_queue& q) {
  std::string out;
  while (auto b = q.next()) {
    CHECK(count_lines(b->lines) == b->line_count);
    out += b->lines;
  }
  return out;
}

void add(outage_queue& q, const std::string& text, outage_queue::clock::time_point at = t0) {
  q.append(text, count_lines(text), at, wall);
}

}  // namespace

TEST_CASE("outage queue: lines come back out in order, one record per append") {
  memory_queue_files files;
  outage_queue q(files, small(), t0);
  CHECK(files.files.empty());  // nothing on disk until something overflows
  const auto a = lines("a", 10), b = lines("b", 10);
  add(q, a);
  add(q, b);
  CHECK(files.files.size() == 1);
  CHECK(q.unread_lines() == 20);
  CHECK(q.bytes() == 2 * record_header_bytes + a.size() + b.size());
  CHECK(q.stats().written_bytes == q.bytes());
  CHECK(q.oldest_written_at() == wall);
  CHECK(drain(q) == a + b);
  CHECK(q.stats().replayed_lines == 20);
  CHECK_FALSE(q.has_unread());
}

TEST_CASE("outage queue: records never span segments, a big append is split at lines") {
  memory_queue_files files;
  outage_queue q(files, small(1024), t0);
  const auto text = lines("big", 100);  // about 2.3 KB
  add(q, text);
  CHECK(files.files.size() >= 3);
  for (const auto& [name, f] : files.files) CHECK(f.data.size() <= 1024);
  CHECK(drain(q) == text);
}

TEST_CASE("outage queue: a restart reads what an earlier run queued and appends to a new segment") {
  memory_queue_files files;
  const auto a = lines("a", 5), b = lines("b", 5);
  {
    outage_queue q(files, small(), t0);
    add(q, a);
  }
  outage_queue q(files, small(), t0);
  CHECK(q.unread_lines() == 5);
  add(q, b);
  CHECK(files.files.size() == 2);
  CHECK(drain(q) == a + b);
}

TEST_CASE("outage queue: files that are not segments are left alone") {
  memory_queue_files files;
  files.files["spool.corrupt"].data = "whatever";
  files.files["queue-zz.seg"].data = "SPQ1 but not a segment name";
  files.files["queue-000000000000000g.seg"].data = "bad digit";
  outage_queue q(files, small(), t0);
  CHECK(q.segments() == 0);
  add(q, lines("a", 3));
  CHECK(drain(q) == lines("a", 3));
  CHECK(files.files.count("spool.corrupt") == 1);
}

TEST_CASE("outage queue: a last record cut at any byte is dropped, everything before it is kept") {
  const auto a = lines("a", 20), b = lines("b", 20);
  memory_queue_files written;
  {
    outage_queue q(written, small(), t0);
    add(q, a);
    add(q, b);
  }
  REQUIRE(written.files.size() == 1);
  const auto name = written.segment(0);
  const auto whole = written.files[name].data;
  const auto first = record_header_bytes + a.size();
  for (std::size_t cut = first; cut <= whole.size(); ++cut) {
    CAPTURE(cut);
    memory_queue_files files = written;
    files.files[name].data.resize(cut);
    outage_queue q(files, small(), t0);
    CHECK(drain(q) == (cut == whole.size() ? a + b : a));
    CHECK(q.stats().dropped_corrupt == 0);  // a torn tail is a crash, not corruption
  }
}

TEST_CASE("outage queue: zeros, erased flash and garbage after the last record are cut off") {
  const auto a = lines("a", 20);
  std::mt19937 random(7);
  std::string noise(3000, '\0');
  for (auto& c : noise) c = static_cast<char>(random());
  for (const auto& tail : {std::string(4096, '\0'), std::string(4096, '\xff'), noise,
                           std::string("SPQ1"), encode_record(a, 20, wall).substr(0, 30)}) {
    memory_queue_files files;
    {
      outage_queue q(files, small(), t0);
      add(q, a);
    }
    files.files.begin()->second.data += tail;
    outage_queue q(files, small(), t0);
    CHECK(drain(q) == a);
    CHECK(q.stats().dropped_corrupt == 0);
    // New lines go to a new segment, not behind the garbage.
    add(q, lines("b", 2));
    CHECK(drain(q) == lines("b", 2));
  }
}

TEST_CASE("outage queue: a flipped bit in a sealed segment skips the rest of it, counted") {
  // Three records in the first (sealed) segment, one in the second.
  const auto a = lines("a", 10), b = lines("b", 10), c = lines("c", 10), d = lines("d", 10);
  memory_queue_files written;
  {
    outage_queue q(written, small(3 * (record_header_bytes + a.size())), t0);
    add(q, a);
    add(q, b);
    add(q, c);
    add(q, d);
  }
  REQUIRE(written.files.size() == 2);
  const auto sealed = written.segment(0);
  const auto record = record_header_bytes + a.size();
  for (std::size_t byte = 0; byte < written.files[sealed].data.size(); ++byte) {
    CAPTURE(byte);
    memory_queue_files files = written;
    files.files[sealed].data[byte] = static_cast<char>(files.files[sealed].data[byte] ^ 0x10);
    outage_queue q(files, small(3 * record), t0);
    const auto out = drain(q);
    // The records before the damaged one arrive, those after it in the same
    // segment are skipped, the next segment arrives whole.
    const auto damaged = byte / record;
    const std::string kept[] = {"", a, a + b};
    CHECK(out == kept[damaged] + d);
    const auto skipped = static_cast<std::uint64_t>(10 * (3 - damaged));
    if (byte % record < record_header_bytes)
      // A bad header is found at the start: its lines are estimated by
      // their newlines (the header's own bytes may hold one more).
      CHECK(q.stats().dropped_corrupt >= skipped);
    else
      CHECK(q.stats().dropped_corrupt == skipped);
  }
}

TEST_CASE("outage queue: a power cut loses at most what was queued since the last sync") {
  memory_queue_files files;
  std::string synced_text, all_text;
  auto settings = small(2048);
  {
    outage_queue q(files, settings, t0);
    auto now = t0;
    for (int i = 0; i < 40; ++i) {
      const auto text = lines("r" + std::to_string(i), 3);
      add(q, text, now);
      all_text += text;
      q.tick(now);
      // After a tick, everything queued more than sync_interval ago is synced.
      if (!q.next_due()) synced_text = all_text;
      now += 1s;
    }
    q.tick(now + 10s);
    CHECK_FALSE(q.next_due());
    synced_text = all_text;
    add(q, lines("late", 3), now + 11s);  // never synced
  }
  files.power_cut();
  outage_queue q(files, settings, t0);
  const auto out = drain(q);
  CHECK(out == synced_text);
  CHECK(q.stats().dropped_corrupt == 0);
}

TEST_CASE("outage queue: the sync policy: sealed segments at once, the tail within sync_interval") {
  memory_queue_files files;
  auto settings = small(1024);
  outage_queue q(files, settings, t0);
  add(q, lines("a", 5), t0);
  CHECK(files.syncs == 0);  // appends alone never sync
  CHECK(q.next_due() == t0 + 10s);
  q.tick(t0 + 9s);
  CHECK(files.syncs == 0);
  q.tick(t0 + 10s);
  CHECK(files.syncs == 2);  // the segment, and the directory for its creation
  CHECK(files.files.begin()->second.synced == files.files.begin()->second.data.size());
  CHECK_FALSE(q.next_due());
  // Filling past a segment seals it: that segment is synced right away.
  add(q, lines("b", 60), t0 + 11s);
  CHECK(files.files.size() >= 2);
  CHECK(files.files.begin()->second.synced == files.files.begin()->second.data.size());
  CHECK(q.stats().fsyncs == static_cast<std::uint64_t>(files.syncs));
}

TEST_CASE("outage queue: full, it drops its oldest segments and counts every line") {
  memory_queue_files files;
  auto settings = small(1024, 4096);
  outage_queue q(files, settings, t0);
  std::uint64_t queued = 0;
  for (int i = 0; i < 200; ++i) {
    add(q, lines("x" + std::to_string(i), 2));
    queued += 2;
    CHECK(q.bytes() <= settings.max_bytes);
    std::uint64_t on_disk = 0;
    for (const auto& [name, f] : files.files) on_disk += f.data.size();
    CHECK(on_disk == q.bytes());
  }
  CHECK(q.stats().dropped_full > 0);
  const auto out = drain(q);
  CHECK(count_lines(out) + q.stats().dropped_full == queued);
  // What is left is the newest.
  CHECK(out.substr(out.size() - lines("x199", 2).size()) == lines("x199", 2));
}

TEST_CASE("outage queue: ENOSPC and EROFS turn it off, counted, and it tries again later") {
  for (int error : {ENOSPC, EROFS, EIO}) {
    CAPTURE(error);
    memory_queue_files files;
    bool failing = true;
    files.fault = [&](op o, const std::string&) { return failing && o == op::append ? error : 0; };
    outage_queue q(files, small(), t0);
    add(q, lines("a", 4), t0);
    CHECK(q.faulted());
    CHECK(q.stats().dropped_io_error == 4);
    CHECK(files.files.empty());  // the failed segment is not left behind
    failing = false;
    add(q, lines("b", 4), t0 + 29s);  // before the retry: not even tried
    CHECK(q.stats().dropped_io_error == 8);
    add(q, lines("c", 4), t0 + 30s);
    CHECK_FALSE(q.faulted());
    CHECK(drain(q) == lines("c", 4));
  }
}

TEST_CASE("outage queue: a file system short of the free-space floor counts as full") {
  memory_queue_files files;
  auto settings = small();
  settings.free_floor = 1000;
  files.free = 1500;
  outage_queue q(files, settings, t0);
  add(q, lines("a", 40));  // more than 500 bytes
  CHECK(q.faulted());
  CHECK(q.stats().dropped_io_error == 40);
  files.free = 1 << 20;
  add(q, lines("b", 4), t0 + 31s);
  CHECK(drain(q) == lines("b", 4));
}

TEST_CASE("outage queue: an unreadable segment is skipped and counted, the next one still read") {
  memory_queue_files files;
  outage_queue q(files, small(1024), t0);
  add(q, lines("a", 100));  // more than one segment
  add(q, lines("z", 2));
  const auto first = files.segment(0);
  const auto first_lines = q.unread_lines() - 2;
  files.fault = [&](op o, const std::string& name) {
    return o == op::read && name == first ? EIO : 0;
  };
  const auto out = drain(q);
  CHECK(out.find("z.1 ") != std::string::npos);
  CHECK(count_lines(out) + q.stats().dropped_io_error == 102);
  CHECK(q.stats().dropped_io_error > 0);
  CHECK(q.stats().dropped_io_error < first_lines + 1);
}

TEST_CASE("outage queue: a segment is deleted only once its lines are delivered") {
  memory_queue_files files;
  outage_queue q(files, small(1024), t0);
  add(q, lines("a", 100));
  const auto segments = q.segments();
  REQUIRE(segments >= 2);
  // One record fills a segment here: handing it out finishes that segment.
  REQUIRE(q.next());
  q.handed_out_up_to(100);
  CHECK(q.awaits_release());
  q.release(99, t0);  // the caller's delivery has not passed it yet
  CHECK(q.segments() == segments);
  q.release(100, t0);
  CHECK(q.segments() == segments - 1);
  REQUIRE(q.next());
  q.release(1000, t0);  // handed out, but not marked: not released
  CHECK(q.segments() == segments - 1);
  while (q.next()) {
  }
  q.handed_out_up_to(500);
  q.release(500, t0);
  CHECK(q.segments() == 0);
  CHECK(files.files.empty());
  CHECK(q.bytes() == 0);
  // The unlinks reach the disk at the next sync.
  CHECK(q.next_due() == t0 + 10s);
}

TEST_CASE("line buffer: a full buffer hands its oldest lines to the overflow sink, in blocks") {
  struct sink final : overflow_sink {
    std::string got;
    std::size_t lines = 0;
    void spill(std::string_view text, std::size_t n) override {
      got.append(text);
      lines += n;
    }
  } s;
  line_buffer b(60);
  b.spill_to(&s, 30);
  const auto a = lines("a", 3);  // 3 x 17 bytes
  b.push(a);
  CHECK(s.got.empty());
  b.push(lines("b", 1));
  // At least 30 bytes at once: two lines, not the one that would do.
  CHECK(s.got == lines("a", 2));
  CHECK(s.lines == 2);
  CHECK(b.dropped_lines() == 0);
  CHECK(b.front_position() == 34);
  CHECK(b.back_position() == 34 + b.bytes());
  std::string out;
  b.take(out, 17);
  CHECK(b.front_position() == 51);
  b.put_back(out);
  CHECK(b.front_position() == 34);
}
