// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Checkpoints and the low-level API (Trio's `trio.lowlevel`), on which everything that blocks
// is built: `wait_task_rescheduled` + `reschedule` with the abort protocol, `ParkingLot`,
// task introspection, system tasks, run statistics, run-local variables, cross-thread
// re-entry (`TrioToken`) and fd readiness waits.
//
// Checkpoints (spec §2.1):
//   co_await trio::checkpoint();                  cancel point + schedule point
//   co_await trio::checkpoint_if_cancelled();     raises if cancelled, else does nothing
//   co_await trio::cancel_shielded_checkpoint();  schedule point only, never raises
//
// Blocking with the abort protocol (how Event, Lock, channels and sleep are built):
//
//   TaskRecord* me = &trio::lowlevel::current_task();
//   waiters.push_back(me);
//   co_await trio::lowlevel::wait_task_rescheduled([&](trio::lowlevel::RaiseCancel) {
//     waiters.remove(me);                  // cancelled: undo the registration...
//     return trio::lowlevel::Abort::kSucceeded;  // ...and the runtime raises Cancelled
//   });
//   // elsewhere: trio::lowlevel::reschedule(*me);   // wakes it (exactly once per wait)
//
// The abort callable is called at most once per wait, synchronously, whenever the task's
// cancel status becomes effectively cancelled (or at once if it already is). Returning
// kFailed means the waker stays responsible: it must later call reschedule(task, e) where `e`
// may be `raise_cancel()` (a "slow abort").
#ifndef TRIO_RUNTIME_LOWLEVEL_H_
#define TRIO_RUNTIME_LOWLEVEL_H_

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "runtime/errors.h"
#include "runtime/instrument.h"
#include "runtime/internal/runner.h"
#include "runtime/internal/task_record.h"
#include "runtime/io_backend.h"
#include "runtime/run_options.h"
#include "runtime/task.h"
#include "runtime/time.h"

namespace trio {

class Clock;
class Nursery;

namespace internal {
// Helpers of the awaiters below (internal/runner.h, runner.cc).
// wait_task_rescheduled's suspension: the task is blocked until rescheduled (inline: the hot
// path of every wait).
inline void block_suspend(TaskRec* task, std::coroutine_handle<> h, AbortHook* hook,
                          const char* waiting_on) {
  task->resume_point = h;
  ++task->schedule_points;
  ++task->cancel_points;
  task->state = TaskState::kBlocked;
  task->abort = hook;
  task->waiting_on = waiting_on;
  const bool interrupt = task->runner->at_cancel_point(task);
  if (task->cancel_status->effectively_cancelled || interrupt) [[unlikely]]
    task->runner->task_blocked(task);
}
inline void rethrow_if_outcome(TaskRec* task) {
  if (task->next_exception) std::rethrow_exception(std::exchange(task->next_exception, nullptr));
}
}  // namespace internal

// ---- checkpoints -------------------------------------------------------------------------

namespace internal {
struct [[nodiscard]] CheckpointAwaiter {
  TaskRec* task = nullptr;
  bool may_cancel;
  bool await_ready() const noexcept { return false; }
  template <TrioPromise P>
  void await_suspend(std::coroutine_handle<P> h) {
    task = h.promise().task;
    checkpoint_suspend(task, h, may_cancel);
  }
  void await_resume() { rethrow_if_outcome(task); }
};

struct [[nodiscard]] CheckpointIfCancelledAwaiter {
  TaskRec* task = nullptr;
  bool await_ready() const noexcept { return false; }
  template <TrioPromise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    task = h.promise().task;
    const bool interrupt = task->runner->at_cancel_point(task);
    if (!is_effectively_cancelled(task) && !interrupt) {
      ++task->cancel_points;
      return false;  // not cancelled: continue without yielding
    }
    checkpoint_suspend(task, h, true);
    return true;
  }
  void await_resume() { rethrow_if_outcome(task); }
};
}  // namespace internal

// A cancel point and a schedule point: yields to the scheduler, then raises Cancelled if the
// task is effectively cancelled. `co_await trio::sleep(0s)` is the same.
inline internal::CheckpointAwaiter checkpoint() noexcept { return {nullptr, true}; }
// Raises Cancelled (after a full checkpoint) if the task is effectively cancelled; otherwise
// does nothing — not even a schedule point.
inline internal::CheckpointIfCancelledAwaiter checkpoint_if_cancelled() noexcept { return {}; }
// A schedule point that never raises Cancelled.
inline internal::CheckpointAwaiter cancel_shielded_checkpoint() noexcept {
  return {nullptr, false};
}

namespace lowlevel {

using TaskRecord = internal::TaskRec;
using ::trio::cancel_shielded_checkpoint;
using ::trio::checkpoint;
using ::trio::checkpoint_if_cancelled;

// ---- wait_task_rescheduled / reschedule -------------------------------------------------

enum class Abort { kSucceeded, kFailed };

// Makes the exception to deliver for a blocked task (for slow aborts): Cancelled, or for the
// main task a pending KeyboardInterrupt (calling it then takes the interrupt: it is delivered).
class RaiseCancel {
 public:
  explicit RaiseCancel(TaskRecord& task, bool keyboard_interrupt = false)
      : task_(&task), keyboard_interrupt_(keyboard_interrupt) {}
  std::exception_ptr operator()() const;
  TaskRecord& task() const { return *task_; }

 private:
  TaskRecord* task_;
  bool keyboard_interrupt_;
};

namespace detail {
template <class F>
struct [[nodiscard]] WaitAwaiter final : internal::AbortHook {
  F abort_fn;
  const char* waiting_on;
  internal::TaskRec* task = nullptr;
  WaitAwaiter(F f, const char* w) : abort_fn(std::move(f)), waiting_on(w) {}
  bool await_ready() const noexcept { return false; }
  template <internal::TrioPromise P>
  void await_suspend(std::coroutine_handle<P> h) {
    task = h.promise().task;
    internal::block_suspend(task, h, this, waiting_on);
  }
  void await_resume() { internal::rethrow_if_outcome(task); }
  bool try_abort(internal::TaskRec& t) override {
    return abort_fn(RaiseCancel(t)) == Abort::kSucceeded;
  }
  bool try_abort_keyboard_interrupt(internal::TaskRec& t) override {
    return abort_fn(RaiseCancel(t, true)) == Abort::kSucceeded;
  }
};
}  // namespace detail

// Blocks the current task until someone calls reschedule() on it; returns normally or raises
// the exception passed to reschedule. `abort_fn(RaiseCancel)` -> Abort is called at most once,
// when the task is cancelled (see the file comment). `waiting_on` describes the wait in task
// dumps and traces (a static string: it is stored, not copied); such a wait names no object in
// hang reports — park in a named ParkingLot for that. A cancel point and a schedule point.
template <class F>
auto wait_task_rescheduled(F abort_fn, const char* waiting_on = "wait_task_rescheduled") {
  static_assert(std::is_invocable_r_v<Abort, F&, RaiseCancel>,
                "abort_fn must be callable as Abort(trio::lowlevel::RaiseCancel)");
  return detail::WaitAwaiter<F>(std::move(abort_fn), waiting_on);
}

// Makes a task blocked in wait_task_rescheduled runnable; it will return normally, or raise
// `exception` if non-null. Exactly once per wait (an Abort::kSucceeded counts as the
// reschedule). Rescheduling a task that is not blocked is a bug: RuntimeError.
void reschedule(TaskRecord& task, std::exception_ptr exception);
namespace detail {
[[noreturn]] void raise_reschedule_outside_run();
}
inline void reschedule(TaskRecord& task) {
  if (!task.runner) [[unlikely]]
    detail::raise_reschedule_outside_run();
  task.runner->reschedule(&task);
}

// ---- tasks -------------------------------------------------------------------------------

namespace detail {
[[noreturn]] void raise_not_in_task();
}
// The running task. RuntimeError("must be called from async context") outside a task.
inline TaskRecord& current_task() {
  if (TaskRecord* task = internal::tl_current_task) [[likely]]
    return *task;
  detail::raise_not_in_task();
}
// The run's root (<init>) task.
TaskRecord& current_root_task();
// Whether current_time() / current_task() would succeed.
bool in_trio_run();
bool in_trio_task();

// Introspection of a task record.
std::string task_name(const TaskRecord& task);
Nursery* parent_nursery(const TaskRecord& task);
Nursery* eventual_parent_nursery(const TaskRecord& task);
// The nurseries the task has open, outermost first.
std::vector<Nursery*> child_nurseries(const TaskRecord& task);
// What the task is blocked on ("sleep", "Event.wait", ...), or "" if it is not blocked: the kind
// of wait only (hang reports add the object and its owner, see runtime/internal/hang_report.h).
std::string waiting_on(const TaskRecord& task);

// Live coroutine frames on this thread (the leak check: 0 after every run).
int64_t live_frames();

// The cancel scopes around the task's current position, innermost first (a nursery's scope
// included). For harnesses that inject cancellations (see CancelPointHook).
std::vector<CancelScope*> enclosing_scopes(const TaskRecord& task);

// A value in [0, n) from the run's choice source — the one place randomness may come from in
// code that must stay reproducible (e.g. the order in which Event.set wakes its waiters).
uint64_t random_choice(uint64_t n, ChoiceKind kind = ChoiceKind::kUser);

// ---- statistics --------------------------------------------------------------------------

struct RunStatistics {
  size_t tasks_living = 0;
  size_t tasks_runnable = 0;
  // next deadline - now; kInfDuration if none (may be negative).
  Duration seconds_to_next_deadline = kInfDuration;
  IoStatistics io_statistics;
  size_t run_sync_soon_queue_size = 0;
};
RunStatistics current_statistics();
// The options the current run was started with (RuntimeError outside a run). The IO layer reads
// its socket factory and resolver here.
const RunOptions& current_run_options();

// ---- instruments -------------------------------------------------------------------------

// Adds an instrument to the current run (idempotent).
void add_instrument(Instrument* instrument);
// Removes it; KeyError if it is not installed (e.g. it was removed after throwing).
void remove_instrument(Instrument* instrument);

// ---- clock -------------------------------------------------------------------------------

Clock& current_clock();

// ---- wait_all_tasks_blocked (run-loop side; trio::testing wraps it) ----------------------

// Blocks until every other task has been blocked for `cushion` of *real* time with nothing
// runnable (with cushion 0: as soon as the run queue is empty after an I/O poll). Only the
// waiters with the smallest cushion wake, all together. Takes priority over MockClock autojump.
// Cancellable. A cancel point and a schedule point.
Task<> wait_all_tasks_blocked(Duration cushion = Duration(0));

// ---- system tasks ------------------------------------------------------------------------

namespace detail {
TaskRecord& spawn_system_root(internal::TaskRec* rec, std::string name);
}

// ---- parking lot -------------------------------------------------------------------------

class ParkingLot;

using internal::BreakerLink;

namespace detail {
// Called by the runner as `task` exits: breaks every lot it is registered as breaker for (and
// drops its dormant registrations).
void break_lots_of_exiting_task(TaskRecord& task);
// add_parking_lot_breaker() for a task known not to have exited; returns the registration.
// O(1), allocates nothing once the task's extras exist.
inline BreakerLink* link_breaker(TaskRecord& task, ParkingLot& lot);
// Removes one registration from both of its lists and frees it. O(1).
inline void unlink_breaker(BreakerLink* link);
}  // namespace detail

struct ParkingLotStatistics {
  size_t tasks_waiting = 0;
};

namespace detail {
// The kind of a bare ParkingLot in hang reports. Unnamed, it is not shown: its waiters describe
// their wait in their own words (park("Mailbox.get")). Named: "parking lot 'inbox'".
extern const internal::ObjectKind kParkingLotKind;
}  // namespace detail

// A fair (FIFO) wait queue: the building block of every synchronization primitive. Parked
// tasks are linked intrusively through their task records: parking allocates nothing.
//
// Naming: `ParkingLot lot("inbox")` or `lot.set_name("inbox")` makes hang reports say what its
// parked tasks wait for: "task t: blocked on Mailbox.get of parking lot 'inbox'".
class ParkingLot {
 public:
  ParkingLot() noexcept : label_(detail::kParkingLotKind) {}
  // A lot named for hang reports (see set_name).
  explicit ParkingLot(std::string_view name) : ParkingLot() { set_name(name); }
  // Internal: a lot that is part of a primitive of another kind (a Lock's lot is a "Lock").
  explicit ParkingLot(const internal::ObjectKind& kind) noexcept : label_(kind) {}
  ParkingLot(const ParkingLot&) = delete;
  ParkingLot& operator=(const ParkingLot&) = delete;
  // Destroying a lot is safe while tasks have it registered as their breaker (they forget it)
  // and, inside a run, while tasks are parked in it: they wake with BrokenResourceError
  // ("ParkingLot destroyed while tasks were parked in it"), since nothing can unpark them now.
  ~ParkingLot();

  // Parks the current task until unparked. Cancellable (a cancelled park leaves the lot).
  // Raises BrokenResourceError if the lot is broken. A cancel point and a schedule point.
  // `waiting_on` names the wait in task dumps ("Lock.acquire", ...).
  Task<> park(const char* waiting_on = "ParkingLot.park");
  // The tasks an unpark/repark touched, in order. Up to kInlineTasks of them are held inline,
  // so waking or moving a few tasks allocates nothing.
  static constexpr size_t kInlineTasks = 4;
  using TaskList = absl::InlinedVector<TaskRecord*, kInlineTasks>;
  // Wakes up to `count` tasks, longest-waiting first; returns them.
  TaskList unpark(size_t count = 1);
  // Wakes the longest-waiting task and returns it (null if none). Allocates nothing.
  TaskRecord* unpark_one();
  TaskList unpark_all();
  // Moves up to `count` parked tasks, in order, to the end of `new_lot`, without waking them.
  TaskList repark(ParkingLot& new_lot, size_t count = 1);
  TaskList repark_all(ParkingLot& new_lot);
  // Wakes every parked task with BrokenResourceError; later park() calls raise it too.
  // `task` is recorded in broken_by().
  void break_lot(TaskRecord* task = nullptr);
  // The breaking tasks, in order. They may have exited since (a breaker breaks the lot as it
  // exits): compare the pointers, never dereference them.
  const std::vector<TaskRecord*>& broken_by() const { return broken_by_; }
  bool broken() const { return broken_; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  ParkingLotStatistics statistics() const { return {size_}; }
  // The longest-waiting task, or null.
  TaskRecord* first() const { return head_; }

  // Names the lot in hang reports ("" makes it unnamed again). Allocates a copy of the name;
  // an unnamed lot costs nothing. Sync, not a checkpoint; any time, from anywhere.
  void set_name(std::string_view name) { label_.set_name(name); }
  // The name given by set_name or the constructor, "" if none.
  std::string_view name() const noexcept { return label_.name(); }
  // Internal: the lot's kind and name, for hang reports.
  const internal::ObjectLabel& label() const noexcept { return label_; }

  // Internal (Lock): the lot's first breaker registration, and forgetting every registration
  // unseen (they belong to an abandoned run: their storage is gone).
  BreakerLink* first_breaker_link_() const noexcept { return breaker_links_; }
  void forget_breaker_links_() noexcept { breaker_links_ = nullptr; }

  // Internal: links / unlinks a task (used by park and the abort hook).
  void link_(TaskRecord* task);
  void unlink_(TaskRecord* task);

 private:
  TaskRecord* pop_front_();
  TaskRecord* head_ = nullptr;
  TaskRecord* tail_ = nullptr;
  size_t size_ = 0;
  bool broken_ = false;
  std::vector<TaskRecord*> broken_by_;
  // The last breaker's name, taken when it broke the lot: its record dies with the task.
  std::string broken_by_name_;
  // Registrations of live tasks that have this lot as their breaker (see BreakerLink).
  BreakerLink* breaker_links_ = nullptr;
  internal::ObjectLabel label_;
  friend void add_parking_lot_breaker(TaskRecord& task, ParkingLot& lot);
  friend void remove_parking_lot_breaker(TaskRecord& task, ParkingLot& lot);
  friend void detail::break_lots_of_exiting_task(TaskRecord& task);
  friend BreakerLink* detail::link_breaker(TaskRecord& task, ParkingLot& lot);
  friend void detail::unlink_breaker(BreakerLink* link);
};

namespace detail {
inline BreakerLink* link_breaker(TaskRecord& task, ParkingLot& lot) {
  BreakerLink* link = task.runner->new_breaker_link();
  link->lot = &lot;
  link->task = &task;
  link->dormant = false;
  BreakerLink*& task_head = task.extras_().breakers;
  link->task_prev = nullptr;
  link->task_next = task_head;
  if (task_head) task_head->task_prev = link;
  task_head = link;
  link->lot_prev = nullptr;
  link->lot_next = lot.breaker_links_;
  if (lot.breaker_links_) lot.breaker_links_->lot_prev = link;
  lot.breaker_links_ = link;
  return link;
}

inline void unlink_breaker(BreakerLink* link) {
  ParkingLot* lot = link->lot;
  (link->task_prev ? link->task_prev->task_next : link->task->extras->breakers) = link->task_next;
  if (link->task_next) link->task_next->task_prev = link->task_prev;
  (link->lot_prev ? link->lot_prev->lot_next : lot->breaker_links_) = link->lot_next;
  if (link->lot_next) link->lot_next->lot_prev = link->lot_prev;
  link->task->runner->free_breaker_link(link);
}
}  // namespace detail

// Registers `lot` to be broken when `task` exits. BrokenResourceError if the task has exited.
void add_parking_lot_breaker(TaskRecord& task, ParkingLot& lot);
// RuntimeError if `lot` is not registered for `task`.
void remove_parking_lot_breaker(TaskRecord& task, ParkingLot& lot);

// ---- run-local variables -----------------------------------------------------------------

// One value per run (Trio's RunVar). get() outside a run: RuntimeError("Cannot be used outside
// of a run context"); without a value or default: LookupError.
template <class T>
class RunVar {
 public:
  explicit RunVar(std::string name) : name_(std::move(name)) {}
  RunVar(std::string name, T default_value)
      : name_(std::move(name)), default_(std::move(default_value)) {}

  struct Token {
    const RunVar* var;
    std::optional<T> previous_value;
    bool used = false;
  };

  T& get();
  T get_or(T fallback);
  Token set(T value);
  // Restores the value from before `token`'s set(). ValueError if reused or not ours.
  void reset(Token& token);
  const std::string& name() const { return name_; }

 private:
  std::optional<T>* slot(bool create);
  std::string name_;
  std::optional<T> default_;
};

namespace detail {
std::unordered_map<const void*, std::shared_ptr<void>>& run_vars(const char* what);
}

template <class T>
std::optional<T>* RunVar<T>::slot(bool create) {
  auto& vars = detail::run_vars("RunVar");
  auto it = vars.find(this);
  if (it == vars.end()) {
    if (!create) return nullptr;
    it = vars.emplace(this, std::make_shared<std::optional<T>>()).first;
  }
  return static_cast<std::optional<T>*>(it->second.get());
}

template <class T>
T& RunVar<T>::get() {
  std::optional<T>* s = slot(true);
  if (!s->has_value()) {
    if (!default_) throw LookupError(absl::StrCat("RunVar '", name_, "' has no value"));
    s->emplace(*default_);
  }
  return **s;
}

template <class T>
T RunVar<T>::get_or(T fallback) {
  std::optional<T>* s = slot(false);
  if (s && s->has_value()) return **s;
  if (default_) return *default_;
  return fallback;
}

template <class T>
typename RunVar<T>::Token RunVar<T>::set(T value) {
  std::optional<T>* s = slot(true);
  Token token{this, *s, false};
  *s = std::move(value);
  return token;
}

template <class T>
void RunVar<T>::reset(Token& token) {
  if (token.var != this) throw ValueError("token is not for us");
  if (token.used) throw ValueError("token has already been used");
  token.used = true;
  *slot(true) = token.previous_value;
}

// ---- cross-thread re-entry ----------------------------------------------------------------

// A handle that lets other threads (and signal handlers) schedule work on the run's thread.
class TrioToken {
 public:
  // Runs `fn(arg)` on the run's thread soon, in FIFO order. Async-signal-safe and thread-safe.
  // RunFinishedError once the run is over; RuntimeError if the queue is full.
  void run_sync_soon(void (*fn)(void*), void* arg) const;
  // As above with any callable, move-only ones included: the token owns `fn` until it has run
  // (thread-safe; allocates, so not async-signal-safe).
  //
  // Example (hands a buffer to the run's thread):
  //   token.run_sync_soon([buf = std::move(buf)]() mutable { consume(std::move(buf)); });
  void run_sync_soon(absl::AnyInvocable<void()> fn) const;
  // The signal-handler form: never throws; false if the run is over or the queue is full.
  bool try_run_sync_soon(void (*fn)(void*), void* arg) const noexcept;

  explicit TrioToken(std::shared_ptr<void> state) : state_(std::move(state)) {}
  bool operator==(const TrioToken& other) const { return state_ == other.state_; }

 private:
  std::shared_ptr<void> state_;
};
TrioToken current_trio_token();

// ---- file-descriptor readiness ------------------------------------------------------------

namespace detail {
struct [[nodiscard]] FdWaitAwaiter final : internal::AbortHook {
  int fd;
  IoDirection direction;
  internal::TaskRec* task = nullptr;
  FdWaitAwaiter(int f, IoDirection d) : fd(f), direction(d) {}
  bool await_ready() const noexcept { return false; }
  template <internal::TrioPromise P>
  void await_suspend(std::coroutine_handle<P> h) {
    task = h.promise().task;
    suspend(h);
  }
  void await_resume() { internal::rethrow_if_outcome(task); }
  bool try_abort(internal::TaskRec& t) override;

 private:
  void suspend(std::coroutine_handle<> h);
};
}  // namespace detail

// Blocks until `fd` is readable / writable. One waiter per fd and direction, else
// BusyResourceError("another task is already reading / writing this fd"). Cancellable.
// notify_closing(fd) wakes waiters with ClosedResourceError. A cancel point and schedule point.
inline detail::FdWaitAwaiter wait_readable(int fd) { return {fd, IoDirection::kRead}; }
inline detail::FdWaitAwaiter wait_writable(int fd) { return {fd, IoDirection::kWrite}; }
// Call before closing an fd that other tasks may be waiting on: they wake with
// ClosedResourceError. Not a checkpoint.
void notify_closing(int fd);

}  // namespace lowlevel
}  // namespace trio

#endif  // TRIO_RUNTIME_LOWLEVEL_H_
