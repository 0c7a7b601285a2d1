// An in-memory directory for the outage queue's tests: it remembers what
// was synced, so a power cut can drop the rest, and fails on demand.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "sockpush/buffer/queue_files.hpp"

namespace test {

class memory_queue_files final : public sockpush::queue_files {
 public:
  struct file {
    std::string data;
    std::size_t synced = 0;     ///< bytes that survive a power cut
    bool entry_synced = false;  ///< the directory entry survives a power cut
  };
  enum class op { list, read, append, sync, remove, sync_directory };

  std::map<std::string, file> files;
  std::optional<std::uint64_t> free;
  /// Returns an errno value to fail the call with, or 0.
  std::function<int(op, const std::string&)> fault = [](op, const std::string&) { return 0; };
  int syncs = 0;

  /// What a power cut leaves: synced bytes of files whose entry was synced.
  void power_cut() {
    for (auto it = files.begin(); it != files.end();) {
      if (!it->second.entry_synced) {
        it = files.erase(it);
        continue;
      }
      it->second.data.resize(it->second.synced);
      ++it;
    }
  }
  std::string segment(std::size_t index) const {
    auto it = files.begin();
    std::advance(it, static_cast<long>(index));
    return it->first;
  }

  int list(std::vector<entry>& out) override {
    if (int e = fault(op::list, "")) return e;
    out.clear();
    for (const auto& [name, f] : files) out.push_back({name, f.data.size()});
    return 0;
  }
  int read_at(const std::string& name, std::uint64_t offset, std::size_t length,
              std::string& out) override {
    out.clear();
    if (int e = fault(op::read, name)) return e;
    auto it = files.find(name);
    if (it == files.end()) return ENOENT;
    if (offset < it->second.data.size()) out = it->second.data.substr(offset, length);
    return 0;
  }
  int append(const std::string& name, std::string_view data) override {
    if (int e = fault(op::append, name)) return e;
    files[name].data.append(data);
    return 0;
  }
  int sync(const std::string& name) override {
    ++syncs;
    if (int e = fault(op::sync, name)) return e;
    auto& f = files.at(name);
    f.synced = f.data.size();
    return 0;
  }
  int remove(const std::string& name) override {
    if (int e = fault(op::remove, name)) return e;
    files.erase(name);
    return 0;
  }
  int sync_directory() override {
    ++syncs;
    if (int e = fault(op::sync_directory, "")) return e;
    for (auto& [name, f] : files) f.entry_synced = true;
    return 0;
  }
  std::optional<std::uint64_t> free_bytes() override { return free; }
};

}  // namespace test
