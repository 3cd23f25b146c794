// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Internal: the run loop (Trio's Runner and unrolled_run, spec §2.9–2.10).
//
// One Runner per `trio::run`, owned by that call, reachable from the run's thread through a
// thread-local pointer. The scheduler is the one file allowed to be large: the loop, the run
// queue, deadlines and wait_all_tasks_blocked are one piece of logic, and splitting them hides
// the order of operations that Trio's semantics depend on.
#ifndef TRIO_RUNTIME_INTERNAL_RUNNER_H_
#define TRIO_RUNTIME_INTERNAL_RUNNER_H_

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/choice.h"
#include "runtime/clock.h"
#include "runtime/errors.h"
#include "runtime/instrument.h"
#include "runtime/internal/callback_queue.h"
#include "runtime/internal/cancel_status.h"
#include "runtime/internal/deadlines.h"
#include "runtime/internal/hang_report.h"
#include "runtime/internal/task_record.h"
#include "runtime/io_backend.h"
#include "runtime/run_options.h"
#include "runtime/time.h"

namespace trio {
class Nursery;
namespace internal {

// The loop clamps every I/O wait to this (Trio's _MAX_TIMEOUT).
inline constexpr Duration kMaxIoWait = std::chrono::hours(24);

// State shared between a run and the TrioTokens it handed out (which may outlive it).
struct TokenState {
  CallbackQueue queue;
  std::atomic<bool> closed{false};
  std::atomic<int> in_flight{0};
  IoBackend* io = nullptr;
};

// The task being stepped on this thread: null between steps and outside runs. Only the
// runner's step() (and its cold helpers) write it; lowlevel::current_task() reads it inline.
// Reading a thread-local from a coroutine is safe here: a run's coroutines all resume on the
// run's thread (coroutine-pitfalls.md #6 concerns tasks that migrate between threads).
extern constinit thread_local TaskRec* tl_current_task;

struct IdleWaiter {
  Duration cushion;
  uint64_t counter;
  TaskRec* task;
};

class Runner {
 public:
  explicit Runner(const RunOptions& options);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // The runner of the calling thread's current run, or null.
  static Runner* current() noexcept;
  // As current(), but throws RuntimeError("must be called from inside trio.run") if none.
  static Runner& require(const char* what);

  // Runs the loop until every task has exited. `spawn_main` spawns the main task into the
  // main nursery. Returns the main task's exception (null on success).
  std::exception_ptr run(const std::function<TaskRec*(Nursery&)>& spawn_main);

  // ---- scheduling ----
  void reschedule(TaskRec* task, std::exception_ptr outcome);
  // reschedule(task, nullptr): the hot path of every wake-up, inline.
  void reschedule(TaskRec* task) {
    make_runnable(task);
    push_runq(task);
    if (instrumented_) [[unlikely]]
      notify_scheduled(task);
  }
  // reschedule(task) for many tasks in a row, by a waker that checked has_instruments() is
  // false (Event::set): the run queue's tail and size stay in registers until it is destroyed.
  class BulkReschedule {
   public:
    explicit BulkReschedule(Runner& runner) : runner_(runner), tail_(runner.runq_tail_) {}
    BulkReschedule(const BulkReschedule&) = delete;
    BulkReschedule& operator=(const BulkReschedule&) = delete;
    ~BulkReschedule() {
      runner_.runq_tail_ = tail_;
      runner_.runq_size_ += added_;
    }
    void add(TaskRec* task) {
      make_runnable(task);
      task->runq_next = nullptr;
      if (tail_)
        tail_->runq_next = task;
      else
        runner_.runq_head_ = task;
      tail_ = task;
      ++added_;
    }

   private:
    Runner& runner_;
    TaskRec* tail_;
    size_t added_ = 0;
  };
  // The last task on the run queue (null if it is empty).
  TaskRec* runq_tail() const { return runq_tail_; }
  // Rotates the tasks queued after `before` (the whole queue if null): the one after `last`
  // comes first and `last` becomes the tail. `last` must be one of them. O(1). Only for a waker
  // that just queued those tasks and wants them in a rotated order (Event::set); the
  // instruments' task_scheduled calls already saw the unrotated order, so callers use it only
  // when there are no instruments.
  void rotate_runq(TaskRec* before, TaskRec* last) {
    if (last == runq_tail_) return;
    TaskRec*& link = before ? before->runq_next : runq_head_;
    TaskRec* first = link;
    link = last->runq_next;
    runq_tail_->runq_next = first;
    last->runq_next = nullptr;
    runq_tail_ = last;
  }
  // Puts a running task back on the run queue (a schedule point without blocking).
  void yield_running(TaskRec* task) {
    task->state = TaskState::kRunnable;
    push_runq(task);
    if (instrumented_) [[unlikely]]
      notify_scheduled(task);
  }
  // Called by a wait_task_rescheduled awaiter once the task is suspended and blocked, if it is
  // cancelled or at_cancel_point() returned true: delivers a pending KeyboardInterrupt (main
  // task) or Cancelled through the task's abort hook.
  void task_blocked(TaskRec* task);
  void spawn(TaskRec* task, Nursery* nursery, bool system);
  void task_exited(TaskRec* task, std::exception_ptr exception);
  // Every cancel point calls this: it runs the cancel-point hook (RunOptions::cancel_point_hook),
  // if any, and returns true if the cancel point must act as if the task were cancelled because
  // it is the main task and a KeyboardInterrupt is pending (Trio treats ki_pending so there).
  // One load when neither applies.
  bool at_cancel_point(TaskRec* task) {
    if (attention_.load(std::memory_order_relaxed)) [[unlikely]]
      return at_cancel_point_slow(task);
    return false;
  }
  // Ctrl-C, from the SIGINT handler: a KeyboardInterrupt is now pending for the main task (and
  // a blocking I/O wait is woken). Async-signal-safe.
  void interrupt() noexcept;
  bool keyboard_interrupt_pending() const {
    return attention_.load(std::memory_order_relaxed) & kAttentionInterrupt;
  }
  // Clears the pending KeyboardInterrupt and returns it, to be raised in the main task.
  std::exception_ptr take_keyboard_interrupt();
  // Delivers a pending KeyboardInterrupt to the main task if it is blocked (through its abort
  // hook); otherwise it stays pending for the main task's next cancel point, or the run's end.
  void attempt_delivery_of_pending_keyboard_interrupt();
  void set_main_task(TaskRec* task) { main_task_ = task; }
  SchedulingPolicy scheduling() const { return options_.scheduling; }
  const RunOptions& options() const { return options_; }
  // Calls the task's abort hook if it is blocked and its status is effectively cancelled.
  void attempt_delivery_of_pending_cancel(TaskRec* task);
  // A new Cancelled for `task`, with the reason of its current cancel status.
  std::exception_ptr make_cancelled(TaskRec* task);

  // ---- time ----
  Clock& clock() { return *clock_; }
  TimePoint now() { return clock_->current_time(); }
  Deadlines& deadlines() { return deadlines_; }

  // ---- instruments ----
  void add_instrument(Instrument* instrument);
  void remove_instrument(Instrument* instrument);
  bool has_instruments() const { return instrumented_; }

  // ---- wait_all_tasks_blocked ----
  void add_idle_waiter(Duration cushion, TaskRec* task);
  void remove_idle_waiter(TaskRec* task);

  // ---- misc ----
  IoBackend& io() { return *io_; }
  std::shared_ptr<TokenState> token_state();
  // Callbacks queued by run_sync_soon and not yet run (0 if no token was ever handed out).
  size_t run_sync_soon_queue_size() const { return token_ ? token_->queue.size() : 0; }
  ChoiceSource& choices() { return *choices_; }
  Nursery* system_nursery() { return system_nursery_; }
  TaskRec* init_task() { return init_task_; }
  TaskRec* main_task() { return main_task_; }
  size_t tasks_living() const { return tasks_living_; }
  size_t tasks_runnable() const { return runq_size_; }
  uint64_t next_counter() { return next_counter_++; }
  // Run-local variables (RunVar): key -> type-erased value.
  std::unordered_map<const void*, std::shared_ptr<void>>& run_vars() { return run_vars_; }
  // Parking-lot breaker registrations (see BreakerLink): recycled, freed with the runner.
  BreakerLink* new_breaker_link() {
    BreakerLink* link = free_breaker_links_;
    if (link) {
      free_breaker_links_ = link->task_next;
      return link;
    }
    return &breaker_links_.emplace_back();
  }
  void free_breaker_link(BreakerLink* link) {
    link->task_next = free_breaker_links_;
    free_breaker_links_ = link;
  }
  // Unique among the process's runs (never 0): tells a registration made in this run from one
  // left behind by an abandoned run, whose storage is gone.
  uint64_t run_id() const { return run_id_; }
  // A human-readable dump of the task tree (for deadlock and livelock reports): every task, what
  // it waits on (the object, named or numbered, and its owners: see hang_report.h), its cancel
  // scopes and nurseries; then a "deadlock cycle: ..." line for each cycle of tasks waiting for
  // each other's objects.
  std::string task_tree() const;

  // Set while an abandoned run destroys its frames (destructors skip their checks).
  bool tearing_down_ = false;

 private:
  friend class ::trio::Nursery;
  void loop();
  void run_one_iteration();
  void step(TaskRec* task);
  void notify_before_step(TaskRec* task);
  void notify_after_step(TaskRec* task);
  bool deliver_checkpoint_cancel(TaskRec* task);
  bool at_cancel_point_slow(TaskRec* task);
  void install_sigint_handler();
  void restore_sigint_handler();
  [[noreturn]] void fail_foreign_await(TaskRec* task);
  void run_batch();
  void run_batch(TaskRec* head);
  void run_ordered_batch(TaskRec* head);
  template <class Fn>
  void instruments_call(Fn&& fn);
  void push_runq(TaskRec* task) {
    task->runq_next = nullptr;
    if (runq_tail_)
      runq_tail_->runq_next = task;
    else
      runq_head_ = task;
    runq_tail_ = task;
    ++runq_size_;
  }
  void notify_scheduled(TaskRec* task);
  void notify_spawned(TaskRec* task);
  void notify_exited(TaskRec* task);
  [[noreturn]] static void fail_reschedule(TaskRec* task);
  // What reschedule(task) does to the task itself (not the run queue).
  static void make_runnable(TaskRec* task) {
    if (task->state != TaskState::kBlocked) [[unlikely]]
      fail_reschedule(task);
    task->abort = nullptr;
    task->custom_sleep_data = nullptr;
    task->waiting_on = nullptr;
    task->next_exception = nullptr;
    task->state = TaskState::kRunnable;
  }
  bool process_external_events() { return token_ && drain_external_events(); }
  bool drain_external_events();

  RunOptions options_;
  std::unique_ptr<Clock> owned_clock_;
  std::unique_ptr<IoBackend> owned_io_;
  std::unique_ptr<Prng> owned_prng_;
  Clock* clock_ = nullptr;
  IoBackend* io_ = nullptr;
  ChoiceSource* choices_ = nullptr;
  Prng* prng_ = nullptr;  // choices_ when it is a Prng (the default): called directly
  CancelPointHook* cancel_point_hook_ = nullptr;
  // What cancel points must look at: a cancel-point hook is installed, a KeyboardInterrupt is
  // pending. Atomic: the SIGINT handler sets kAttentionInterrupt.
  static constexpr uint8_t kAttentionHook = 1;
  static constexpr uint8_t kAttentionInterrupt = 2;
  std::atomic<uint8_t> attention_{0};
  bool sigint_installed_ = false;
  std::vector<Instrument*> instruments_;
  bool instrumented_ = false;  // !instruments_.empty(), one load for the hot paths

  TaskRec* runq_head_ = nullptr;
  TaskRec* runq_tail_ = nullptr;
  size_t runq_size_ = 0;
  std::vector<TaskRec*> batch_;  // scratch for shuffled batches

  Deadlines deadlines_;
  std::vector<IdleWaiter> idle_waiters_;  // sorted by (cushion, counter)
  std::shared_ptr<TokenState> token_;

  size_t tasks_living_ = 0;
  uint64_t next_counter_ = 0;
  TaskRec* init_task_ = nullptr;
  TaskRec* main_task_ = nullptr;
  Nursery* system_nursery_ = nullptr;
  std::exception_ptr main_exception_;
  std::exception_ptr internal_error_;
  std::unordered_map<const void*, std::shared_ptr<void>> run_vars_;
  // The numbers unnamed objects get in this run's reports (task_tree(), which is const: they
  // are assigned when a report first mentions an object).
  mutable ObjectNumbers object_numbers_;
  std::deque<BreakerLink> breaker_links_;
  BreakerLink* free_breaker_links_ = nullptr;
  Runner* previous_ = nullptr;
  uint64_t run_id_;
};

// ---- awaiter fast paths (declared in lowlevel.h) ----

inline void checkpoint_suspend(TaskRec* task, std::coroutine_handle<> h, bool may_cancel) {
  task->resume_point = h;
  ++task->schedule_points;
  if (may_cancel) {
    ++task->cancel_points;
    task->in_checkpoint = true;
    if (task->runner->at_cancel_point(task)) [[unlikely]]  // raised after the schedule point
      task->next_exception = task->runner->take_keyboard_interrupt();
  }
  task->runner->yield_running(task);
}

inline bool is_effectively_cancelled(const TaskRec* task) {
  return task->cancel_status->effectively_cancelled;
}

}  // namespace internal
}  // namespace trio

#endif  // TRIO_RUNTIME_INTERNAL_RUNNER_H_
