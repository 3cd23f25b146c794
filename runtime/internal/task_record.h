// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The task record: everything the runtime knows about one trio task. It lives inside the task's
// root coroutine frame (no separate allocation), so it is valid exactly while the task exists.
// Public introspection goes through `trio::lowlevel::TaskRecord` (= this struct); its fields are
// the runtime's and must not be written by users.
#ifndef TRIO_RUNTIME_INTERNAL_TASK_RECORD_H_
#define TRIO_RUNTIME_INTERNAL_TASK_RECORD_H_

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "runtime/internal/object_label.h"

namespace trio {
class Nursery;
class CancelScope;
namespace lowlevel {
class ParkingLot;
}
namespace internal {

class Runner;
struct CancelStatus;
struct TaskRec;

// One parking-lot breaker registration: linked both into its task's list and into its lot's
// list, so that registering, removing, a task's exit and a lot's destruction each touch only the
// registrations involved. The runner owns the storage (recycled, freed with the runner), so an
// abandoned run's teardown can drop every list without touching a link.
struct BreakerLink {
  lowlevel::ParkingLot* lot = nullptr;
  TaskRec* task = nullptr;
  BreakerLink* task_prev = nullptr;
  BreakerLink* task_next = nullptr;  // also the free-list link
  BreakerLink* lot_prev = nullptr;
  BreakerLink* lot_next = nullptr;
  // A dormant registration breaks nothing when its task exits (it is just dropped). A Lock
  // keeps its last owner's registration, dormant, while it is released, so that the same task
  // re-acquiring it costs no unlink and relink.
  bool dormant = false;
};

// The abort protocol of `wait_task_rescheduled`: the blocked task's awaiter implements this.
struct AbortHook {
  // Called at most once per wait when the task's cancel status becomes effectively cancelled.
  // Returns true for Trio's Abort.SUCCEEDED (the runtime reschedules the task with Cancelled),
  // false for Abort.FAILED (the waker must reschedule it later).
  virtual bool try_abort(struct TaskRec& task) = 0;
  // The same for a KeyboardInterrupt delivered to the main task (Trio passes the hook a
  // raise_cancel that raises it). true: the runtime reschedules the task with it.
  virtual bool try_abort_keyboard_interrupt(struct TaskRec& task) { return try_abort(task); }
  // For hang reports only (never on a hot path): the wait queue the blocked `task` is linked
  // into, if the wait has one (see object_label.h).
  virtual WaitTarget wait_target(const struct TaskRec& task) const {
    (void)task;
    return {};
  }

 protected:
  ~AbortHook() = default;
};

enum class TaskState : uint8_t { kRunnable, kRunning, kBlocked, kExited };

struct TaskRec {
  // ---- stepping ----
  // Trampoline register: the coroutine to resume next within the current step.
  // Invariant: null whenever the task is not running.
  std::coroutine_handle<> next_resume;
  // Where to resume the task when it is next stepped (the innermost suspended coroutine).
  // (The root frame that holds this record is root_handle(this), see root_task.h.)
  std::coroutine_handle<> resume_point;
  // Intrusive run-queue link (singly linked: a back link would take the record past its memory
  // budget, see bench/memory_bench.cc). Meaningful only while state == kRunnable.
  TaskRec* runq_next = nullptr;
  Runner* runner = nullptr;

  // ---- cancellation ----
  // The task's active cancel status (innermost entered scope, or its nursery's).
  CancelStatus* cancel_status = nullptr;
  TaskRec* status_prev = nullptr;  // membership in cancel_status->tasks
  TaskRec* status_next = nullptr;
  // Non-null while blocked in wait_task_rescheduled and the abort hook has not been called.
  AbortHook* abort = nullptr;
  // The outcome delivered by the next reschedule: null = success, else the exception to raise.
  std::exception_ptr next_exception;

  // ---- structure ----
  Nursery* parent_nursery = nullptr;
  TaskRec* sibling_prev = nullptr;  // membership in parent_nursery's child list
  TaskRec* sibling_next = nullptr;
  // Innermost nursery opened by this task (nurseries link outward through Nursery::outer_).
  Nursery* innermost_child_nursery = nullptr;

  // ---- waiting ----
  // Free for sleep/wake code (Trio's custom_sleep_data); reset on every reschedule.
  void* custom_sleep_data = nullptr;
  TaskRec* lot_prev = nullptr;  // membership in a ParkingLot (custom_sleep_data is the lot)
  TaskRec* lot_next = nullptr;
  // What the task is blocked on, for introspection, traces and deadlock reports ("sleep",
  // "Event.wait", "Lock.acquire", "nursery exit", ...): the kind of wait, never the object (the
  // reports find the object through `abort`, see AbortHook::wait_target). For parking-lot
  // waits, custom_sleep_data is the lot.
  const char* waiting_on = nullptr;

  // ---- identity ----
  uint64_t counter = 0;  // spawn order within the run (0 = init task)
  // Rarely used state, allocated on first use: an explicit name, parking-lot breakers, the
  // nursery a task inside start() will move to.
  struct Extras {
    std::string name;  // set when the spawner named the task ("" = default name)
    // Head of the intrusive list of this task's parking-lot breaker registrations.
    BreakerLink* breakers = nullptr;
    // The nursery this task moves to when it calls `started()` (while inside `start()`).
    Nursery* eventual_parent_nursery = nullptr;
  };
  std::unique_ptr<Extras> extras;
  Extras& extras_() {
    if (!extras) extras = std::make_unique<Extras>();
    return *extras;
  }
  Nursery* eventual_parent_nursery() const {
    return extras ? extras->eventual_parent_nursery : nullptr;
  }

  // ---- counters (compare them for change: they wrap after 2^32) ----
  uint32_t cancel_points = 0;    // checkpoints that could raise Cancelled
  uint32_t schedule_points = 0;  // yields to the scheduler
  // Handle of a sleeping task's entry in the run's deadline table (0 = none).
  uint32_t sleep_registration = 0;
  TaskState state = TaskState::kRunnable;
  bool in_checkpoint = false;  // resuming from checkpoint(): check cancellation first
  bool is_system = false;
  bool is_main = false;
  bool is_init = false;

  // The task's name: the spawner's, or "<parent task>.<counter>" by default.
  std::string name() const;
};

#if defined(__x86_64__) && !defined(_GLIBCXX_DEBUG)
// The memory budget (<= 256 bytes of runtime state per blocked task beyond its own frame, see
// bench/memory_bench.cc) leaves no room: put new, rarely used fields in Extras.
static_assert(sizeof(TaskRec) <= 176, "TaskRec outgrew the per-task memory budget");
#endif

}  // namespace internal
}  // namespace trio

#endif  // TRIO_RUNTIME_INTERNAL_TASK_RECORD_H_
