// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/lowlevel.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "runtime/internal/runner.h"
#include "runtime/nursery.h"
#include "runtime/sleep.h"

namespace trio {

using internal::Runner;
using internal::TaskRec;

TimePoint RunClock::now() { return current_time(); }

TimePoint current_time() { return Runner::require("trio::current_time").now(); }

namespace lowlevel {

std::exception_ptr RaiseCancel::operator()() const {
  return keyboard_interrupt_ ? task_->runner->take_keyboard_interrupt()
                             : task_->runner->make_cancelled(task_);
}

namespace detail {
void raise_reschedule_outside_run() { throw RuntimeError("reschedule: task is not part of a run"); }
}  // namespace detail

void reschedule(TaskRecord& task, std::exception_ptr exception) {
  if (!task.runner) detail::raise_reschedule_outside_run();
  task.runner->reschedule(&task, std::move(exception));
}

namespace detail {
void raise_not_in_task() { throw RuntimeError("must be called from async context"); }
}  // namespace detail

TaskRecord& current_root_task() {
  Runner& r = Runner::require("current_root_task");
  return *r.init_task();
}

bool in_trio_run() { return Runner::current() != nullptr; }
bool in_trio_task() { return internal::tl_current_task != nullptr; }

std::string task_name(const TaskRecord& task) { return task.name(); }
Nursery* parent_nursery(const TaskRecord& task) { return task.parent_nursery; }
Nursery* eventual_parent_nursery(const TaskRecord& task) { return task.eventual_parent_nursery(); }
std::vector<Nursery*> child_nurseries(const TaskRecord& task) {
  std::vector<Nursery*> out;
  for (Nursery* n = task.innermost_child_nursery; n; n = n->outer_) out.push_back(n);
  std::reverse(out.begin(), out.end());
  return out;
}
std::string waiting_on(const TaskRecord& task) { return task.waiting_on ? task.waiting_on : ""; }

int64_t live_frames() { return internal::frame_pool().live; }

std::vector<CancelScope*> enclosing_scopes(const TaskRecord& task) {
  std::vector<CancelScope*> out;
  for (const internal::CancelStatus* s = task.cancel_status; s; s = s->parent)
    out.push_back(s->scope);
  return out;
}

uint64_t random_choice(uint64_t n, ChoiceKind kind) {
  if (n == 0) throw ValueError("random_choice: n must be at least 1");
  return Runner::require("random_choice").choices().choose(n, kind);
}

const RunOptions& current_run_options() { return Runner::require("current_run_options").options(); }

RunStatistics current_statistics() {
  Runner& r = Runner::require("current_statistics");
  RunStatistics s;
  s.tasks_living = r.tasks_living();
  s.tasks_runnable = r.tasks_runnable();
  const TimePoint next = r.deadlines().next_deadline();
  s.seconds_to_next_deadline = next == kInf ? kInfDuration : saturating_sub(next, r.now());
  s.io_statistics = r.io().statistics();
  s.run_sync_soon_queue_size = r.run_sync_soon_queue_size();
  return s;
}

void add_instrument(Instrument* instrument) {
  Runner::require("add_instrument").add_instrument(instrument);
}
void remove_instrument(Instrument* instrument) {
  Runner::require("remove_instrument").remove_instrument(instrument);
}

Clock& current_clock() { return Runner::require("current_clock").clock(); }

Task<> wait_all_tasks_blocked(Duration cushion) {
  if (cushion < Duration(0)) throw ValueError("cushion must be non-negative");
  TaskRec* task = &current_task();
  Runner& r = *task->runner;
  r.add_idle_waiter(cushion, task);
  co_await wait_task_rescheduled(
      [&](RaiseCancel) {
        r.remove_idle_waiter(task);
        return Abort::kSucceeded;
      },
      "wait_all_tasks_blocked");
}

// ---- ParkingLot ----

ParkingLot::~ParkingLot() {
  // An abandoned run destroying its frames (children first) may already have destroyed the
  // tasks listed here; nothing will exit or resume any more, so there is nothing to undo.
  Runner* runner = Runner::current();
  if (!runner || runner->tearing_down_) return;
  while (breaker_links_) detail::unlink_breaker(breaker_links_);
  if (head_) {
    const std::string msg = absl::StrCat(
        "ParkingLot destroyed while ", size_,
        " task(s) were parked in it: destroy a lot (or the primitive that owns it) only after "
        "its waiters have left");
    while (head_) {
      TaskRecord* t = pop_front_();
      t->runner->reschedule(t, std::make_exception_ptr(BrokenResourceError(msg)));
    }
  }
}

void ParkingLot::link_(TaskRecord* task) {
  task->custom_sleep_data = this;
  task->lot_next = nullptr;
  task->lot_prev = tail_;
  if (tail_)
    tail_->lot_next = task;
  else
    head_ = task;
  tail_ = task;
  ++size_;
}

void ParkingLot::unlink_(TaskRecord* task) {
  if (task->lot_prev)
    task->lot_prev->lot_next = task->lot_next;
  else
    head_ = task->lot_next;
  if (task->lot_next)
    task->lot_next->lot_prev = task->lot_prev;
  else
    tail_ = task->lot_prev;
  task->lot_prev = task->lot_next = nullptr;
  task->custom_sleep_data = nullptr;
  --size_;
}

TaskRecord* ParkingLot::pop_front_() {
  TaskRecord* t = head_;
  if (t) unlink_(t);
  return t;
}

namespace {
std::string breaker_name(const TaskRecord* task) { return task ? task->name() : "unknown task"; }
}  // namespace

namespace detail {
const internal::ObjectKind kParkingLotKind{
    .name = "ParkingLot", .noun = "parking lot", .show_unnamed = false};
}  // namespace detail

namespace {
// park()'s wait (wait_task_rescheduled's, with the lot for hang reports). The task's lot is
// custom_sleep_data, not a stored pointer: repark() may have moved it to another lot.
struct [[nodiscard]] ParkAwaiter final : internal::AbortHook {
  TaskRecord* task;
  const char* what;
  ParkAwaiter(TaskRecord* t, const char* w) : task(t), what(w) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { internal::block_suspend(task, h, this, what); }
  void await_resume() { internal::rethrow_if_outcome(task); }
  bool try_abort(internal::TaskRec& t) override {  // a cancelled park leaves its lot
    static_cast<ParkingLot*>(t.custom_sleep_data)->unlink_(&t);
    return true;
  }
  internal::WaitTarget wait_target(const internal::TaskRec& t) const override {
    const auto* lot = static_cast<const ParkingLot*>(t.custom_sleep_data);
    return {lot, &lot->label()};
  }
};
}  // namespace

Task<> ParkingLot::park(const char* what) {
  if (broken_)
    throw BrokenResourceError("Attempted to park in parking lot broken by " + broken_by_name_);
  TaskRecord* task = &current_task();
  link_(task);
  co_await ParkAwaiter(task, what);
}

ParkingLot::TaskList ParkingLot::unpark(size_t count) {
  TaskList woken;
  while (count-- > 0 && head_) {
    TaskRecord* t = pop_front_();
    woken.push_back(t);
    t->runner->reschedule(t);
  }
  return woken;
}

TaskRecord* ParkingLot::unpark_one() {
  TaskRecord* t = pop_front_();
  if (t) t->runner->reschedule(t);
  return t;
}

ParkingLot::TaskList ParkingLot::unpark_all() { return unpark(size_); }

ParkingLot::TaskList ParkingLot::repark(ParkingLot& new_lot, size_t count) {
  TaskList moved;
  while (count-- > 0 && head_) {
    TaskRecord* t = pop_front_();
    new_lot.link_(t);
    moved.push_back(t);
  }
  return moved;
}

ParkingLot::TaskList ParkingLot::repark_all(ParkingLot& new_lot) { return repark(new_lot, size_); }

void ParkingLot::break_lot(TaskRecord* task) {
  if (!task && in_trio_task()) task = &current_task();
  broken_ = true;
  broken_by_.push_back(task);
  broken_by_name_ = breaker_name(task);
  const std::string msg = "Parking lot broken by " + broken_by_name_;
  while (head_) {
    TaskRecord* t = pop_front_();
    t->runner->reschedule(t, std::make_exception_ptr(BrokenResourceError(msg)));
  }
}

void add_parking_lot_breaker(TaskRecord& task, ParkingLot& lot) {
  if (task.state == internal::TaskState::kExited)
    throw BrokenResourceError("Attempted to add already exited task as lot breaker.");
  detail::link_breaker(task, lot);
}

void remove_parking_lot_breaker(TaskRecord& task, ParkingLot& lot) {
  if (task.extras) {
    for (BreakerLink* link = task.extras->breakers; link; link = link->task_next) {
      if (link->lot == &lot && !link->dormant) {
        detail::unlink_breaker(link);
        return;
      }
    }
  }
  throw RuntimeError("Attempted to remove task as breaker for a lot it is not registered for");
}

namespace detail {
void break_lots_of_exiting_task(TaskRecord& task) {
  // Registration order, as Trio's list (new links go to the head).
  BreakerLink* link = task.extras->breakers;
  while (link->task_next) link = link->task_next;
  while (link) {
    BreakerLink* earlier = link->task_prev;
    ParkingLot* lot = link->lot;
    const bool dormant = link->dormant;
    unlink_breaker(link);
    if (!dormant) lot->break_lot(&task);
    link = earlier;
  }
}
}  // namespace detail

namespace detail {
std::unordered_map<const void*, std::shared_ptr<void>>& run_vars(const char*) {
  Runner* r = Runner::current();
  if (!r) throw RuntimeError("Cannot be used outside of a run context");
  return r->run_vars();
}

bool FdWaitAwaiter::try_abort(internal::TaskRec& t) {
  t.runner->io().unregister_waiter(fd, direction);
  return true;
}

void FdWaitAwaiter::suspend(std::coroutine_handle<> h) {
  task->runner->io().register_waiter(fd, direction, task);
  internal::block_suspend(task, h, this,
                          direction == IoDirection::kRead ? "wait_readable" : "wait_writable");
}
}  // namespace detail

void notify_closing(int fd) { Runner::require("notify_closing").io().notify_closing(fd); }

// ---- TrioToken ----

bool TrioToken::try_run_sync_soon(void (*fn)(void*), void* arg) const noexcept {
  auto* st = static_cast<internal::TokenState*>(state_.get());
  st->in_flight.fetch_add(1, std::memory_order_seq_cst);
  bool ok = false;
  if (!st->closed.load(std::memory_order_seq_cst)) {
    ok = st->queue.push(fn, arg);
    if (ok && st->io) st->io->wake();
  }
  st->in_flight.fetch_sub(1, std::memory_order_seq_cst);
  return ok;
}

void TrioToken::run_sync_soon(void (*fn)(void*), void* arg) const {
  auto* st = static_cast<internal::TokenState*>(state_.get());
  if (try_run_sync_soon(fn, arg)) return;
  if (st->closed.load()) throw RunFinishedError();
  throw RuntimeError(absl::StrCat("run_sync_soon: the queue is full (",
                                  internal::kRunSyncSoonCapacity, " callbacks pending)"));
}

void TrioToken::run_sync_soon(absl::AnyInvocable<void()> fn) const {
  // The queue carries (fn, arg) pairs: the callable travels as a heap pointer, which the
  // trampoline frees after the call once the queue has accepted it.
  using Callable = absl::AnyInvocable<void()>;
  auto holder = std::make_unique<Callable>(std::move(fn));
  auto call = [](void* p) { std::unique_ptr<Callable>(static_cast<Callable*>(p))->operator()(); };
  run_sync_soon(call, holder.get());
  (void)holder.release();  // accepted: the trampoline owns it now
}

TrioToken current_trio_token() {
  return TrioToken(Runner::require("current_trio_token").token_state());
}

}  // namespace lowlevel
}  // namespace trio
