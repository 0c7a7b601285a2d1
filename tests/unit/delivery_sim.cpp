#include "unit/delivery_sim.hpp"

#include <algorithm>
#include <cstdio>

#include "sockpush/common/overloaded.hpp"

namespace test {

using namespace std::chrono_literals;

delivery_sim::delivery_sim(const sockpush::carbon_config& cfg, std::size_t destinations,
                           std::size_t buffer_bytes, std::size_t send_capacity, duration rtt)
    : cfg_(cfg),
      buffer_(buffer_bytes),
      fsm_(
          cfg,
          [destinations] {
            std::vector<sockpush::carbon_destination> all;
            for (std::size_t d = 0; d < destinations; ++d)
              all.push_back({{"10.0.0." + std::to_string(d + 1), "2003"}, {}});
            return all;
          }(),
          buffer_, 12345),
      capacity_(send_capacity),
      rtt_(rtt),
      now_(epoch()),
      reachable_(destinations, true),
      connections_(destinations) {}

delivery_sim::clock::time_point delivery_sim::epoch() {
  return clock::time_point(std::chrono::hours(1000));
}

void delivery_sim::plan(clock::time_point at, std::function<void()> what) {
  planned_.push({std::max(at, now_), seq_++, std::move(what)});
}

void delivery_sim::at(duration after, std::function<void()> what) {
  plan(now_ + after, std::move(what));
}

void delivery_sim::add_lines(std::string lines, duration after) {
  at(after, [this, lines = std::move(lines)] {
    buffer_.push(lines);
    deliver(delivery_event::wake());
  });
}

void delivery_sim::finish(duration after, duration deadline_after) {
  at(after, [this, deadline_after] { deliver(delivery_event::finish(now_ + deadline_after)); });
}

void delivery_sim::set_reachable(std::size_t d, bool reachable) {
  reachable_[d] = reachable;
}

void delivery_sim::inject(std::size_t k, fault what) {
  fault_step_ = k;
  fault_kind_ = what;
}

void delivery_sim::run(duration limit) {
  const auto end = now_ + limit;
  // As the shell's run() does first.
  if (fsm_.phase() == delivery_phase::idle) deliver(delivery_event::start());
  while (!planned_.empty() && !fsm_.done() && planned_.top().at <= end) {
    auto next = planned_.top();
    planned_.pop();
    now_ = next.at;
    next.what();
  }
  if (!fsm_.done()) now_ = std::max(now_, end);  // the time ran out, not the machine
}

std::vector<delivery_action> delivery_sim::feed(const delivery_event& e, bool answers) {
  const auto before = log_.size();
  feeding_ = true;
  const auto& actions = fsm_.on(e, now_);
  for (const auto& a : std::vector<delivery_action>(actions.begin(), actions.end())) perform(a);
  std::vector<delivery_action> mine;
  for (auto i = before; i < log_.size(); ++i) mine.push_back(log_[i].action);
  if (answers)
    drain();
  else
    feeding_ = false;
  return mine;
}

void delivery_sim::deliver(const delivery_event& e) {
  synchronous_.push_back(e);
  if (!feeding_) drain();
}

void delivery_sim::drain() {
  feeding_ = true;
  while (!synchronous_.empty()) {
    const auto next = synchronous_.front();
    synchronous_.erase(synchronous_.begin());
    const auto& actions = fsm_.on(next, now_);
    for (const auto& a : std::vector<delivery_action>(actions.begin(), actions.end())) perform(a);
  }
  feeding_ = false;
}

delivery_sim::link* delivery_sim::find(link_id id) {
  for (auto& l : links_)
    if (l->id == id) return l.get();
  return nullptr;
}

bool delivery_sim::next_outcome_is_fault(fault& what) {
  ++outcomes_;
  if (fault_step_ == 0 || outcomes_ != fault_step_) return false;
  what = fault_kind_;
  fault_at_ = now_;
  return true;
}

sockpush::unacked_bytes delivery_sim::unacked(const link* l) const {
  if (blind_ || !l || !l->open || !l->connected) return std::nullopt;
  return l->written.size() - l->acked;
}

void delivery_sim::perform(const delivery_action& a) {
  namespace act = sockpush::action;
  auto logged = a;
  if (auto* w = std::get_if<act::write>(&logged.what))
    w->data = {};  // the machine's batch: not kept
  log_.push_back({now_, logged});
  std::visit(
      sockpush::overloaded{
          [&](const act::connect& c) { this->connect(c.link, c.destination); },
          [&](const act::watch& w) {
            if (link* l = find(w.link)) l->watched = true;
          },
          [&](const act::write& w) { this->write(w.link, w.data); },
          [&](const act::snapshot& s) {
            const link* l = find(s.link);
            const auto count = unacked(l);
            synchronous_.push_back(delivery_event::ack_snapshot(
                s.link, s.purpose, count,
                count ? l->last_ack.value_or(epoch() - 1h) : std::optional<clock::time_point>{}));
          },
          [&](const act::shutdown_send& f) {
            if (link* l = find(f.link)) l->fin_sent = true;
          },
          [&](const act::close& c) {
            link* l = find(c.link);
            const auto count = unacked(l);
            if (l) {
              l->open = false;
              if (l->write_pending) {
                l->write_pending = false;
                plan(now_, [this, id = l->id] {
                  deliver(delivery_event::wrote(id, 0, link_error::aborted, "Operation canceled"));
                });
              }
            }
            synchronous_.push_back(delivery_event::closed(c.link, count));
          },
          [&](const act::arm_timer& t) {
            const auto i = static_cast<std::size_t>(t.timer);
            if (t.how == sockpush::arming::unless_armed && timer_armed_[i]) return;
            const auto generation = ++timer_generation_[i];
            timer_armed_[i] = true;
            plan(t.at, [this, i, generation, timer = t.timer] {
              if (generation != timer_generation_[i]) return;
              timer_armed_[i] = false;
              deliver(delivery_event::fired(timer));
            });
          },
          [&](const act::cancel_timer& t) {
            const auto i = static_cast<std::size_t>(t.timer);
            ++timer_generation_[i];
            timer_armed_[i] = false;
          },
          [](const act::log&) {},
          [](const act::done&) {},
      },
      a.what);
}

void delivery_sim::connect(link_id id, std::size_t d) {
  auto made = std::make_unique<link>();
  made->id = id;
  made->destination = d;
  links_.push_back(std::move(made));
  plan(now_ + 1ms, [this, id, d] {
    link* l = find(id);
    if (!l->open) {
      deliver(delivery_event::connect_failed(id, "Operation canceled"));
      return;
    }
    fault what;
    const bool injected = next_outcome_is_fault(what);
    if (injected) fault_happened_ = fault::refuse;
    if (injected || !reachable_[d]) {
      l->open = false;
      deliver(delivery_event::connect_failed(id, "Connection refused"));
      return;
    }
    l->connected = true;
    ++connections_[d];
    deliver(delivery_event::connected(id, "10.0.0." + std::to_string(d + 1)));
  });
}

void delivery_sim::write(link_id id, std::string_view data) {
  link* l = find(id);
  l->blocked.assign(data);
  l->write_pending = true;
  try_blocked_write(*l);
}

void delivery_sim::try_blocked_write(link& l) {
  if (!l.write_pending || !l.open) return;
  const auto in_flight = l.written.size() - l.acked;
  if (!l.dead && in_flight >= capacity_) return;  // waits for room
  plan(now_, [this, id = l.id] {
    link* w = find(id);
    if (!w->write_pending || !w->open) return;
    fault what;
    if (!w->dead && next_outcome_is_fault(what)) {
      fault_happened_ = fault::reset;
      kill(*w, fault::reset);
    }
    w->write_pending = false;
    if (w->dead) {
      deliver(delivery_event::wrote(id, 0, link_error::reset, "Broken pipe"));
      return;
    }
    const auto n = std::min(w->blocked.size(), capacity_ - (w->written.size() - w->acked));
    w->written.append(w->blocked, 0, n);
    // Each line counts as written when its last byte is.
    for (auto nl = w->written.find('\n', w->lines_written); nl != std::string::npos;
         nl = w->written.find('\n', w->lines_written)) {
      writes_[w->written.substr(w->lines_written, nl - w->lines_written)].push_back(now_);
      w->lines_written = nl + 1;
    }
    const auto upto = w->written.size();
    plan(now_ + rtt_, [this, id, upto] { acknowledge(id, upto); });
    deliver(delivery_event::wrote(id, n));
  });
}

void delivery_sim::acknowledge(link_id id, std::size_t upto) {
  link* l = find(id);
  if (!l->open || l->dead || l->silent) return;
  fault what;
  if (next_outcome_is_fault(what)) {
    fault_happened_ = what;
    kill(*l, what);
    return;
  }
  const auto from = l->acked;
  l->acked = std::max(l->acked, upto);
  l->last_ack = now_;
  store_received(*l, from, l->acked);
  try_blocked_write(*l);
  if (l->fin_sent && l->acked == l->written.size() && l->watched)
    plan(now_ + rtt_, [this, id] {
      if (find(id)->open) deliver(delivery_event::peer_closed(id, link_error::closed));
    });
}

void delivery_sim::store_received(link& l, std::size_t from, std::size_t to) {
  // Whole lines only, from the start of the line holding `from`.
  auto start = from == 0 ? 0 : l.written.rfind('\n', from - 1);
  start = (from == 0 || start == std::string::npos) ? 0 : start + 1;
  for (auto nl = l.written.find('\n', start); nl != std::string::npos && nl < to;
       nl = l.written.find('\n', start)) {
    ++stored_[l.written.substr(start, nl - start)];
    start = nl + 1;
  }
}

void delivery_sim::peer_fault(std::size_t d, fault what) {
  for (auto& l : links_)
    if (l->destination == d && l->open && l->connected && !l->dead) {
      fault_at_ = now_;
      fault_happened_ = what;
      kill(*l, what);
    }
}

void delivery_sim::kill(link& l, fault what) {
  if (what == fault::silence) {
    l.silent = true;
    return;
  }
  l.dead = true;
  if (l.watched)
    plan(now_, [this, id = l.id, what] {
      if (find(id)->open)
        deliver(delivery_event::peer_closed(
            id, what == fault::close ? link_error::closed : link_error::reset,
            what == fault::close ? "End of file" : "Connection reset by peer"));
    });
  try_blocked_write(l);
}

std::size_t delivery_sim::connections(std::size_t d) const {
  return connections_[d];
}

sockpush::carbon_config quick_timers() {
  sockpush::carbon_config cfg;
  cfg.user_timeout = 2s;
  cfg.stall_timeout = 3s;
  cfg.reconnect_min = 100ms;
  cfg.reconnect_max = 400ms;
  cfg.hold_down = 2s;
  cfg.peer_close_replay_seconds = 0ms;
  return cfg;
}

std::string numbered_lines(std::size_t first, std::size_t count) {
  std::string out;
  for (auto n = first; n < first + count; ++n)
    out += "sweep." + std::to_string(n) + " 1 1700000000\n";
  return out;
}

}  // namespace test
