// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Internal: the deadline structure: one heap for scope deadlines and sleeps, with lazy
// deletion and timer perturbation (Trio's Deadlines). Its users: the run loop (expire,
// next_deadline), CancelScope (add_scope, remove) and sleep (add_sleep, remove).
#ifndef TRIO_RUNTIME_INTERNAL_DEADLINES_H_
#define TRIO_RUNTIME_INTERNAL_DEADLINES_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/choice.h"
#include "runtime/internal/task_record.h"
#include "runtime/time.h"

namespace trio {
class CancelScope;
namespace internal {

class Runner;

// Stale deadline-heap entries are pruned when the heap exceeds 2 * live + this.
inline constexpr size_t kDeadlinePruneSlack = 1000;

// Deadlines of entered scopes and of sleeping tasks, in one heap with lazy deletion. Ties are
// broken by registration order (earlier registration expires first); the tasks this wakes then
// run in one batch, whose order is the scheduler's choice.
class Deadlines {
 public:
  // Entries never point at their target: they name a slot of this table, and the slot holds
  // the target and the registration it belongs to. A stale entry (its target unregistered,
  // perhaps destroyed) is recognized by a registration mismatch without touching the target.
  struct Entry {
    int64_t deadline_ns;
    uint64_t registration;  // ties break by registration order
    uint32_t slot;
  };
  static constexpr uintptr_t kSleepTag = 1;
  // A 4-ary heap: half the depth of a binary heap, so fewer cache misses with many sleepers.
  static constexpr size_t kArity = 4;

  // Registers a deadline; returns a handle (never 0) for remove().
  uint32_t add_scope(TimePoint deadline, CancelScope* scope) {
    return add(deadline, reinterpret_cast<uintptr_t>(scope));
  }
  uint32_t add_sleep(TimePoint deadline, TaskRec* task) {
    return add(deadline, reinterpret_cast<uintptr_t>(task) | kSleepTag);
  }
  void remove(uint32_t handle);
  bool empty() const { return live_ == 0; }
  size_t live() const { return live_; }
  // Earliest live deadline, kInf if none.
  TimePoint next_deadline();
  // The deadline registered under `handle`, kInf if none (for task dumps: a linear scan).
  TimePoint deadline_of(uint32_t handle) const;
  // Expires every entry with deadline <= now. Returns true if any live entry expired.
  bool expire(TimePoint now, Runner& runner);
  // Timer perturbation (RunOptions::timer_perturbation_window), set before the run starts:
  // add() then delays some deadlines by decisions drawn from `choices`.
  void set_perturbation(Duration window, ChoiceSource* choices) {
    perturbation_window_ns_ = window.count();
    perturbation_choices_ = choices;
  }

 private:
  struct Slot {
    uint64_t registration;  // 0 = free
    uintptr_t target;
    uint32_t next_free;
  };
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  uint32_t add(TimePoint deadline, uintptr_t target);
  int64_t perturb(int64_t deadline_ns);
  bool valid(const Entry& e) const { return slots_[e.slot].registration == e.registration; }
  void push(Entry e);
  void pop_top();
  void sift_up(size_t i);
  void sift_down(size_t i);
  void prune();
  std::vector<Entry> heap_;
  std::vector<Entry> expiring_;  // scratch for expire()
  std::vector<Slot> slots_;
  uint32_t free_slot_ = kNoSlot;
  size_t live_ = 0;
  uint64_t next_registration_ = 1;
  // Timer perturbation: 0 = off (add() tests only this). The grid's phase is drawn at the first
  // delayed deadline; -1 until then.
  int64_t perturbation_window_ns_ = 0;
  int64_t perturbation_phase_ns_ = -1;
  ChoiceSource* perturbation_choices_ = nullptr;
};

}  // namespace internal
}  // namespace trio

#endif  // TRIO_RUNTIME_INTERNAL_DEADLINES_H_
