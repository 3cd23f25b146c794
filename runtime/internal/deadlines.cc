// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The deadline heap (see deadlines.h).
#include "runtime/internal/deadlines.h"

#include <utility>

#include "runtime/cancel_scope.h"
#include "runtime/internal/runner.h"

namespace trio::internal {

namespace {
inline bool earlier(const Deadlines::Entry& a, const Deadlines::Entry& b) {
  return a.deadline_ns != b.deadline_ns ? a.deadline_ns < b.deadline_ns
                                        : a.registration < b.registration;
}
}  // namespace

void Deadlines::sift_up(size_t i) {
  Entry e = heap_[i];
  while (i > 0) {
    const size_t parent = (i - 1) / kArity;
    if (!earlier(e, heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

void Deadlines::sift_down(size_t i) {
  const size_t n = heap_.size();
  Entry e = heap_[i];
  for (;;) {
    const size_t first = i * kArity + 1;
    if (first >= n) break;
    size_t best = first;
    const size_t last = std::min(first + kArity, n);
    for (size_t c = first + 1; c < last; ++c)
      if (earlier(heap_[c], heap_[best])) best = c;
    if (!earlier(heap_[best], e)) break;
    heap_[i] = heap_[best];
    i = best;
  }
  heap_[i] = e;
}

void Deadlines::pop_top() {
  heap_.front() = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) sift_down(0);
}

void Deadlines::push(Entry e) {
  heap_.push_back(e);
  sift_up(heap_.size() - 1);
  ++live_;
  if (heap_.size() > 2 * live_ + kDeadlinePruneSlack) prune();
}

uint32_t Deadlines::add(TimePoint deadline, uintptr_t target) {
  uint32_t slot;
  if (free_slot_ != kNoSlot) {
    slot = free_slot_;
    free_slot_ = slots_[slot].next_free;
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back({});
  }
  const uint64_t reg = next_registration_++;
  slots_[slot] = Slot{reg, target, kNoSlot};
  int64_t deadline_ns = deadline.time_since_epoch().count();
  if (perturbation_window_ns_ != 0) [[unlikely]]
    deadline_ns = perturb(deadline_ns);
  push(Entry{deadline_ns, reg, slot});
  return slot + 1;
}

// Delays the deadline (or not: a decision) to the next instant of the run's grid, so that
// deadlines less than a window apart can fall on the same instant. Never earlier, and by less
// than the window.
int64_t Deadlines::perturb(int64_t deadline_ns) {
  const int64_t window = perturbation_window_ns_;
  if (perturbation_choices_->choose(2, ChoiceKind::kTimerNudge) == 0) return deadline_ns;
  if (perturbation_phase_ns_ < 0) {
    perturbation_phase_ns_ = static_cast<int64_t>(
        perturbation_choices_->choose(static_cast<uint64_t>(window), ChoiceKind::kTimerNudge));
  }
  if (deadline_ns > INT64_MAX - window) return deadline_ns;
  int64_t past = (deadline_ns - perturbation_phase_ns_) % window;  // past the last grid instant
  if (past < 0) past += window;
  return past == 0 ? deadline_ns : deadline_ns + (window - past);
}

void Deadlines::remove(uint32_t handle) {
  const uint32_t slot = handle - 1;
  slots_[slot].registration = 0;
  slots_[slot].next_free = free_slot_;
  free_slot_ = slot;
  --live_;
}

void Deadlines::prune() {
  std::vector<Entry> kept;
  kept.reserve(live_);
  for (const Entry& e : heap_)
    if (valid(e)) kept.push_back(e);
  heap_ = std::move(kept);
  for (size_t i = heap_.size(); i-- > 0;) sift_down(i);
}

TimePoint Deadlines::deadline_of(uint32_t handle) const {
  for (const Entry& e : heap_)
    if (e.slot == handle - 1 && valid(e)) return time_point_from_ns(e.deadline_ns);
  return kInf;
}

TimePoint Deadlines::next_deadline() {
  while (!heap_.empty()) {
    if (valid(heap_.front())) return time_point_from_ns(heap_.front().deadline_ns);
    pop_top();
  }
  return kInf;
}

bool Deadlines::expire(TimePoint now, Runner& runner) {
  const int64_t now_ns = now.time_since_epoch().count();
  if (heap_.empty() || heap_.front().deadline_ns > now_ns) return false;
  // Collect every live entry that is due, earliest first (ties in registration order).
  expiring_.clear();
  while (!heap_.empty() && heap_.front().deadline_ns <= now_ns) {
    Entry e = heap_.front();
    pop_top();
    if (valid(e)) expiring_.push_back(e);
  }
  // Deadline ties are a choice point (DESIGN.md, "Timing-race exploration"): under the random
  // policies the order within a group of equal deadlines comes from the run's choice source.
  const SchedulingPolicy policy = runner.scheduling();
  if (expiring_.size() > 1 && policy != SchedulingPolicy::kFifo &&
      policy != SchedulingPolicy::kLifo) {
    for (size_t begin = 0; begin < expiring_.size();) {
      size_t end = begin + 1;
      while (end < expiring_.size() && expiring_[end].deadline_ns == expiring_[begin].deadline_ns)
        ++end;
      for (size_t i = end - 1; i > begin; --i)
        std::swap(
            expiring_[i],
            expiring_[begin + runner.choices().choose(i - begin + 1, ChoiceKind::kDeadlineTie)]);
      begin = end;
    }
  }
  bool any = false;
  for (const Entry& e : expiring_) {
    // An earlier expiry in this loop may have unregistered this one (e.g. cancelling a scope
    // whose abort hook ended a sleep): check again.
    if (!valid(e)) continue;
    any = true;
    const uintptr_t target = slots_[e.slot].target;
    remove(e.slot + 1);
    if (target & kSleepTag) {
      auto* task = reinterpret_cast<TaskRec*>(target & ~kSleepTag);
      task->sleep_registration = 0;
      runner.reschedule(task);
    } else {
      auto* scope = reinterpret_cast<CancelScope*>(target);
      scope->deadline_registration_ = 0;
      scope->expire_deadline_();
    }
  }
  return any;
}

}  // namespace trio::internal
