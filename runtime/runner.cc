// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The run loop. This is the one large file of the runtime (see internal/runner.h for why).
// Banners split it into its concepts.
#include "runtime/internal/runner.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/cancel_scope.h"
#include "runtime/epoll_backend.h"
#include "runtime/internal/cancelled_access.h"
#include "runtime/internal/root_task.h"
#include "runtime/internal/task_dump.h"
#include "runtime/lowlevel.h"
#include "runtime/nursery.h"
#include "runtime/sleep.h"

namespace trio::internal {

constinit thread_local TaskRec* tl_current_task = nullptr;

namespace {
thread_local Runner* tl_runner = nullptr;

[[noreturn]] void invariant_failed(const char* what) {
  std::fprintf(stderr, "trio: internal invariant violated: %s\n", what);
  std::abort();
}
#define TRIO_INVARIANT(cond)              \
  do {                                    \
    if (!(cond)) invariant_failed(#cond); \
  } while (0)

}  // namespace

// ============================================================================================
// Runner: construction, thread-local access
// ============================================================================================

namespace {
std::atomic<uint64_t> next_run_id{1};
}

Runner::Runner(const RunOptions& options)
    : options_(options), run_id_(next_run_id.fetch_add(1, std::memory_order_relaxed)) {
  if (tl_runner) throw RuntimeError("Attempted to call run() from inside a run()");
  if (options_.choices) {
    choices_ = options_.choices;
  } else {
    owned_prng_ = std::make_unique<Prng>(options_.seed ? *options_.seed : os_random_seed());
    choices_ = owned_prng_.get();
  }
  prng_ = dynamic_cast<Prng*>(choices_);
  if (options_.clock) {
    clock_ = options_.clock;
  } else {
    uint64_t offset_seed = choices_->choose(uint64_t{1} << 62, ChoiceKind::kClockOffset);
    owned_clock_ = std::make_unique<SystemClock>(offset_seed);
    clock_ = owned_clock_.get();
  }
  if (options_.io_backend) {
    io_ = options_.io_backend;
  } else {
    owned_io_ = std::make_unique<EpollBackend>();
    io_ = owned_io_.get();
  }
  instruments_ = options_.instruments;
  instrumented_ = !instruments_.empty();
  cancel_point_hook_ = options_.cancel_point_hook;
  if (options_.timer_perturbation_window > Duration(0))
    deadlines_.set_perturbation(options_.timer_perturbation_window, choices_);
  if (cancel_point_hook_) attention_.store(kAttentionHook, std::memory_order_relaxed);
  if (options_.scheduling == SchedulingPolicy::kCustom && !options_.batch_orderer)
    throw RuntimeError(
        "RunOptions: SchedulingPolicy::kCustom needs a batch_orderer (or choose another policy)");
}

Runner::~Runner() {
  if (tl_runner == this) tl_runner = previous_;
}

[[gnu::noinline]] Runner* Runner::current() noexcept { return tl_runner; }

Runner& Runner::require(const char* what) {
  Runner* r = current();
  if (!r)
    throw RuntimeError(std::string(what) +
                       ": must be called from inside trio::run (no run is active on this thread)");
  return *r;
}

// ============================================================================================
// Instruments
// ============================================================================================

template <class Fn>
void Runner::instruments_call(Fn&& fn) {
  // Hooks may add or remove instruments: iterate over a snapshot.
  std::vector<Instrument*> snapshot = instruments_;
  for (Instrument* i : snapshot) {
    if (std::find(instruments_.begin(), instruments_.end(), i) == instruments_.end()) continue;
    try {
      fn(*i);
    } catch (...) {
      std::fprintf(stderr, "trio: instrument %p raised an exception (%s) and was removed\n",
                   static_cast<void*>(i), describe(std::current_exception()).c_str());
      instruments_.erase(std::find(instruments_.begin(), instruments_.end(), i));
      instrumented_ = !instruments_.empty();
    }
  }
}

void Runner::add_instrument(Instrument* instrument) {
  if (std::find(instruments_.begin(), instruments_.end(), instrument) == instruments_.end())
    instruments_.push_back(instrument);
  instrumented_ = true;
}

void Runner::remove_instrument(Instrument* instrument) {
  auto it = std::find(instruments_.begin(), instruments_.end(), instrument);
  if (it == instruments_.end()) throw KeyError("instrument is not installed in this run");
  instruments_.erase(it);
  instrumented_ = !instruments_.empty();
}

// ============================================================================================
// Scheduling primitives
// ============================================================================================

void Runner::notify_scheduled(TaskRec* task) {
  instruments_call([&](Instrument& i) { i.task_scheduled(*task); });
}

[[gnu::noinline]] void Runner::notify_spawned(TaskRec* task) {
  instruments_call([&](Instrument& i) { i.task_spawned(*task); });
}

[[gnu::noinline]] void Runner::notify_exited(TaskRec* task) {
  instruments_call([&](Instrument& i) { i.task_exited(*task); });
}

void Runner::fail_reschedule(TaskRec* task) {
  throw RuntimeError("reschedule: task '" + task->name() +
                     "' is not blocked in wait_task_rescheduled (rescheduled twice?)");
}

void Runner::reschedule(TaskRec* task, std::exception_ptr outcome) {
  make_runnable(task);
  task->next_exception = std::move(outcome);
  push_runq(task);
  if (instrumented_) [[unlikely]]
    notify_scheduled(task);
}

void Runner::task_blocked(TaskRec* task) {
  // Trio: a pending KeyboardInterrupt goes first ("outside all cancel scopes"); if the abort
  // hook declined it, the cancellation still has its turn (a no-op once the hook was used).
  if (task->is_main && keyboard_interrupt_pending()) [[unlikely]]
    attempt_delivery_of_pending_keyboard_interrupt();
  if (task->cancel_status->effectively_cancelled) attempt_delivery_of_pending_cancel(task);
}

void Runner::attempt_delivery_of_pending_cancel(TaskRec* task) {
  if (!task->abort || task->state != TaskState::kBlocked) return;
  if (!task->cancel_status->effectively_cancelled) return;
  AbortHook* hook = std::exchange(task->abort, nullptr);
  if (hook->try_abort(*task)) reschedule(task, make_cancelled(task));
}

std::exception_ptr Runner::make_cancelled(TaskRec* task) {
  // The reason of the innermost cancelled scope visible to the task.
  const CancelStatus* node = task->cancel_status;
  while (node && !node->scope->reason_().set) {
    if (node->scope->shield()) break;
    node = node->parent;
  }
  if (!node || !node->scope->reason_().set)
    return std::make_exception_ptr(
        CancelledAccess::make(Cancelled::Source::kUnknown, false, "", ""));
  const CancelReason& r = node->scope->reason_();
  return std::make_exception_ptr(
      CancelledAccess::make(r.source, r.has_reason, r.reason, r.source_task));
}

void Runner::spawn(TaskRec* task, Nursery* nursery, bool system) {
  task->runner = this;
  task->counter = next_counter_++;
  task->is_system = system;
  task->resume_point = root_handle(task);
  task->parent_nursery = nursery;
  if (nursery) {
    nursery->cancel_scope().status_().add_task(task);
    nursery->link_child_(task);
  }
  ++tasks_living_;
  if (instrumented_) [[unlikely]]
    notify_spawned(task);
  task->state = TaskState::kBlocked;  // so that reschedule accepts it
  reschedule(task);
}

void Runner::task_exited(TaskRec* task, std::exception_ptr exception) {
  TRIO_INVARIANT(task->innermost_child_nursery == nullptr);
  if (task->cancel_status) task->cancel_status->remove_task(task);
  if (task->extras && task->extras->breakers) [[unlikely]]
    lowlevel::detail::break_lots_of_exiting_task(*task);
  if (task->is_main) {
    main_exception_ = exception;
    exception = nullptr;
    main_task_ = nullptr;  // (a KeyboardInterrupt arriving from now on comes out of run())
  }
  if (task->is_init) {
    if (exception) internal_error_ = exception;
  } else if (task->parent_nursery) {
    task->parent_nursery->child_finished_(task, std::move(exception));
  }
  --tasks_living_;
  task->state = TaskState::kExited;
  if (instrumented_) [[unlikely]]
    notify_exited(task);
}

void root_finished(TaskRec* task, std::exception_ptr exception) noexcept {
  task->runner->task_exited(task, std::move(exception));
}

// ============================================================================================
// Awaiter helpers (lowlevel.h, sleep.h)
// ============================================================================================

void sleep_suspend(TaskRec* task, std::coroutine_handle<> h, AbortHook* hook, bool relative,
                   Duration delay, TimePoint deadline) {
  Runner& r = *task->runner;
  const TimePoint now = r.now();
  if (relative) deadline = saturating_add(now, delay);
  task->resume_point = h;
  ++task->schedule_points;
  ++task->cancel_points;
  task->state = TaskState::kBlocked;
  task->waiting_on = "sleep";
  const bool interrupt = r.at_cancel_point(task);
  if (deadline <= now) {
    // Trio: the sleep's own scope is cancelled at entry, so the wait ends at once; an outer
    // cancellation (or a pending KeyboardInterrupt, first) still wins.
    r.reschedule(task, interrupt                                    ? r.take_keyboard_interrupt()
                       : task->cancel_status->effectively_cancelled ? r.make_cancelled(task)
                                                                    : nullptr);
    return;
  }
  if (deadline != kInf) task->sleep_registration = r.deadlines().add_sleep(deadline, task);
  task->abort = hook;
  r.task_blocked(task);
}

bool sleep_abort(TaskRec* task) noexcept {
  if (task->sleep_registration) {
    task->runner->deadlines().remove(std::exchange(task->sleep_registration, 0));
  }
  return true;
}

void SleepForeverAwaiter::await_resume() {
  rethrow_if_outcome(task);
  throw RuntimeError("Should never have been rescheduled!");
}

// ============================================================================================
// The loop
// ============================================================================================

namespace {

Task<> init_main(Runner* r, const std::function<TaskRec*(Nursery&)>* spawn_main,
                 Nursery** system_slot) {
  co_await open_nursery([&](Nursery& system) -> Task<> {
    *system_slot = &system;
    system.cancel_scope().set_origin_lvalue_(ScopeKind::kSystemNursery, SourceSite::here());
    co_await open_nursery([&](Nursery& main_nursery) -> Task<> {
      (*spawn_main)(main_nursery);
      co_return;
    });
    CancelReason reason;
    reason.set = true;
    reason.source = Cancelled::Source::kShutdown;
    system.cancel_scope().cancel_(reason);
  });
  *system_slot = nullptr;
  (void)r;
}

// Post-order list of every task under `task` (children before parents).
void collect_tasks(TaskRec* task, std::vector<TaskRec*>& out) {
  for (Nursery* n = task->innermost_child_nursery; n; n = n->outer_)
    for (TaskRec* c : n->child_tasks()) collect_tasks(c, out);
  out.push_back(task);
}

}  // namespace

void mark_main_task(TaskRec* rec) {
  rec->is_main = true;
  Runner::require("trio::run").set_main_task(rec);
}

std::exception_ptr Runner::run(const std::function<TaskRec*(Nursery&)>& spawn_main) {
  if (tl_runner) throw RuntimeError("Attempted to call run() from inside a run()");
  previous_ = tl_runner;
  tl_runner = this;
  std::exception_ptr loop_error;
  try {
    install_sigint_handler();
    if (instrumented_) instruments_call([](Instrument& i) { i.before_run(); });
    clock_->start_clock();
    auto init = root_call(&init_main, this, &spawn_main, &system_nursery_);
    init_task_ = init.rec();
    init_task_->is_init = true;
    init_task_->is_system = true;
    spawn(init_task_, nullptr, true);
    loop();
  } catch (...) {
    loop_error = std::current_exception();
  }
  tl_current_task = nullptr;  // (an error may have escaped a step)
  if (loop_error && init_task_ && init_task_->state != TaskState::kExited) {
    // Abandoned run (deadlock or internal error): destroy every frame, children first.
    std::vector<TaskRec*> all;
    collect_tasks(init_task_, all);
    tearing_down_ = true;
    for (TaskRec* t : all) {
      if (t->cancel_status) t->cancel_status->remove_task(t);
      root_handle(t).destroy();
    }
  }
  if (token_) {
    token_->closed.store(true, std::memory_order_seq_cst);
    while (token_->in_flight.load(std::memory_order_seq_cst) != 0) {
    }
    token_->queue.drain();
    token_->io = nullptr;
  }
  if (instrumented_) instruments_call([](Instrument& i) { i.after_run(); });
  restore_sigint_handler();
  tl_runner = previous_;
  if (loop_error) std::rethrow_exception(loop_error);
  if (internal_error_)
    throw TrioInternalError(
        "internal error in trio::run: " + describe(internal_error_) + " (a system task crashed?)",
        internal_error_);
  // Ctrl-C after the main task finished (or before it could take it): run() raises it, with the
  // main task's error as its context.
  if (keyboard_interrupt_pending())
    return std::make_exception_ptr(KeyboardInterrupt(main_exception_));
  return main_exception_;
}

bool Runner::drain_external_events() {
  if (!token_->queue.maybe_nonempty()) return false;
  try {
    return token_->queue.drain() > 0;
  } catch (...) {
    throw TrioInternalError(
        "a run_sync_soon callback raised: " + describe(std::current_exception()),
        std::current_exception());
  }
}

void Runner::loop() {
  while (tasks_living_ > 0) {
    // The hottest path, inline: something is runnable and nothing else needs looking at (no
    // instrument, no fd, no deadline, no cross-thread callback). Everything else, including
    // the I/O wait, is run_one_iteration(), out of line so that this loop stays small.
    if (runq_head_ && !instrumented_ && io_->waiter_count() == 0 && !token_ && deadlines_.empty() &&
        !keyboard_interrupt_pending()) [[likely]]
      run_batch();
    else
      run_one_iteration();
  }
}

[[gnu::noinline]] void Runner::run_one_iteration() {
  if (keyboard_interrupt_pending()) [[unlikely]]
    attempt_delivery_of_pending_keyboard_interrupt();
  // Fast path: something is runnable, so the I/O wait would be a zero-timeout poll, neither
  // autojump nor wait_all_tasks_blocked can fire, and no hook needs calling. Poll only if some
  // fd is registered; read the clock only if a deadline is pending.
  if (runq_head_ && !instrumented_) [[likely]] {
    if (io_->waiter_count() != 0) io_->wait_for_events(Duration(0));
    process_external_events();
    if (!deadlines_.empty()) deadlines_.expire(clock_->current_time(), *this);
    run_batch();
    return;
  }
  enum class Primed { kNone, kIdle, kAutojump } primed = Primed::kNone;
  Duration timeout;
  if (runq_head_) {
    timeout = Duration(0);
  } else if (!deadlines_.empty()) {
    timeout = clock_->deadline_to_sleep_time(deadlines_.next_deadline());
    timeout = std::clamp(timeout, Duration(0), Duration(kMaxIoWait));
  } else {
    timeout = kMaxIoWait;
  }
  if (!idle_waiters_.empty()) {
    if (idle_waiters_.front().cushion < timeout) {
      timeout = idle_waiters_.front().cushion;
      primed = Primed::kIdle;
    }
  } else if (!runq_head_) {
    const Duration threshold = clock_->autojump_threshold();
    if (threshold < timeout) {
      timeout = threshold;
      primed = Primed::kAutojump;
    }
  }
  // Nothing can ever happen again: report instead of hanging. A primed autojump does not count:
  // with no deadline pending it has nowhere to jump (the loop would spin at full speed).
  if (!runq_head_ && primed != Primed::kIdle && deadlines_.empty() && options_.detect_deadlock &&
      !io_->may_produce_events() && !(token_ && token_->queue.maybe_nonempty())) {
    throw DeadlockError(
        "trio: deadlock: every task is blocked, no deadline is pending and no "
        "I/O or wake-up can arrive.\nTask tree at " +
        seconds_text(clock_->current_time().time_since_epoch().count()) + ":\n" + task_tree());
  }
  if (instrumented_) [[unlikely]]
    instruments_call([&](Instrument& i) { i.before_io_wait(timeout); });
  if (timeout > Duration(0) && sigint_installed_) {
    // About to block: from here a SIGINT must wake the wait even if it lands on another thread
    // (the handler writes the backend's wake-up fd), and one that arrived just before must not
    // wait for the timeout.
    io_->enable_interrupt_wakeups();
    if (keyboard_interrupt_pending()) timeout = Duration(0);
  }
  bool events = false;
  if (timeout > Duration(0) || io_->waiter_count() != 0) events = io_->wait_for_events(timeout);
  if (process_external_events()) events = true;
  if (instrumented_) [[unlikely]]
    instruments_call([&](Instrument& i) { i.after_io_wait(timeout); });
  if (!deadlines_.empty()) {
    if (deadlines_.expire(clock_->current_time(), *this)) primed = Primed::kNone;
  }
  if (primed != Primed::kNone && !runq_head_ && !events) {
    if (primed == Primed::kIdle) {
      const Duration cushion = idle_waiters_.front().cushion;
      std::vector<TaskRec*> wake;
      for (const IdleWaiter& w : idle_waiters_)
        if (w.cushion == cushion) wake.push_back(w.task);
      for (TaskRec* t : wake) {
        remove_idle_waiter(t);
        reschedule(t);
      }
    } else {
      const TimePoint next = deadlines_.next_deadline();
      if (next != kInf) clock_->autojump(next);
    }
  }
  if (runq_head_) run_batch();
}

// Cold paths of step(), kept out of line so the hot loop stays small.
[[gnu::noinline]] void Runner::notify_before_step(TaskRec* task) {
  instruments_call([&](Instrument& i) { i.before_task_step(*task); });
}

[[gnu::noinline]] void Runner::notify_after_step(TaskRec* task) {
  instruments_call([&](Instrument& i) { i.after_task_step(*task); });
}

[[gnu::noinline]] bool Runner::deliver_checkpoint_cancel(TaskRec* task) {
  // Trio's checkpoint(): after the schedule point, a cancelled task blocks in
  // wait_task_rescheduled and is rescheduled with Cancelled at once — one more step. A
  // KeyboardInterrupt the cancel point took for the main task goes first (checkpoint_suspend).
  if (task->next_exception) return false;
  ++task->schedule_points;
  ++task->cancel_points;
  task->state = TaskState::kBlocked;
  reschedule(task, make_cancelled(task));
  if (instrumented_) notify_after_step(task);
  tl_current_task = nullptr;
  return true;
}

[[gnu::noinline]] void Runner::fail_foreign_await(TaskRec* task) {
  tl_current_task = nullptr;
  throw RuntimeError("task '" + task->name() +
                     "' suspended on an awaitable that is not trio's; it can never be resumed "
                     "(only await trio::Task and trio awaitables inside trio tasks)");
}

// Always inline: g++'s heuristics stopped inlining it into loop() after unrelated changes to
// this file (+13 instructions per checkpoint, +9% in bench/instructions.sh's cp scenario).
[[gnu::always_inline]] inline void Runner::step(TaskRec* task) {
  tl_current_task = task;
  task->state = TaskState::kRunning;
  if (instrumented_) [[unlikely]]
    notify_before_step(task);
  if (task->in_checkpoint) {
    task->in_checkpoint = false;
    if (task->cancel_status->effectively_cancelled) [[unlikely]] {
      if (deliver_checkpoint_cancel(task)) return;
    }
  }
  // The trampoline: resume the task, then whatever coroutine it handed control to, until one
  // suspends for real (constant stack depth, see task.h).
  std::coroutine_handle<> h = task->resume_point;
  do {
    h.resume();
    h = std::exchange(task->next_resume, nullptr);
  } while (h);
  if (task->state == TaskState::kRunning) [[unlikely]]
    fail_foreign_await(task);
  if (instrumented_) [[unlikely]]
    notify_after_step(task);
  tl_current_task = nullptr;
  if (task->state == TaskState::kExited) [[unlikely]]
    root_handle(task).destroy();
}

// Takes the batch — only the tasks runnable now; wake-ups during the batch wait for the next
// one — and steps each once, in the order of the scheduling policy. Inline: one task, or two
// under the default coin flip (say, two that hand values back and forth); the rest out of line.
[[gnu::always_inline]] inline void Runner::run_batch() {
  TaskRec* head = std::exchange(runq_head_, nullptr);
  runq_tail_ = nullptr;
  const size_t count = std::exchange(runq_size_, 0);
  if (count == 1) {  // (no choice to make)
    step(head);
  } else if (count == 2 && prng_ && options_.scheduling == SchedulingPolicy::kCoinFlip) {
    TaskRec* second = head->runq_next;  // (read before stepping, see below)
    if (prng_->coin_flip()) std::swap(head, second);
    step(head);
    step(second);
  } else {
    run_batch(head);
  }
}

[[gnu::noinline]] void Runner::run_batch(TaskRec* head) {
  bool reverse = false;
  switch (options_.scheduling) {
    case SchedulingPolicy::kCoinFlip:
      // (The default source, called directly: the same draw as choose(2, ...).)
      reverse = (prng_ ? prng_->coin_flip() : choices_->choose(2, ChoiceKind::kBatchReverse)) == 1;
      break;
    case SchedulingPolicy::kLifo:
      reverse = true;
      break;
    case SchedulingPolicy::kFifo:
      break;
    case SchedulingPolicy::kCustom:
    case SchedulingPolicy::kShuffle:
      run_ordered_batch(head);
      return;
  }
  // Read each link before stepping: a step may put the task (never another of this batch) back
  // on the run queue, which rewrites its links.
  if (reverse) {
    TaskRec* reversed = nullptr;
    while (head) {
      TaskRec* next = head->runq_next;
      head->runq_next = reversed;
      reversed = head;
      head = next;
    }
    head = reversed;
  }
  while (head) {
    TaskRec* next = head->runq_next;
    // Start fetching the next task's frame while this one runs (large batches miss the cache).
    if (next) __builtin_prefetch(next->resume_point.address());
    step(head);
    head = next;
  }
}

// A batch in an order chosen by the batch orderer (kCustom) or shuffled (kShuffle).
[[gnu::noinline]] void Runner::run_ordered_batch(TaskRec* head) {
  batch_.clear();
  for (TaskRec* t = head; t; t = t->runq_next) batch_.push_back(t);
  if (options_.scheduling == SchedulingPolicy::kCustom) {
    options_.batch_orderer->order_batch(batch_);
  } else {
    for (size_t i = batch_.size() - 1; i > 0; --i)
      std::swap(batch_[i], batch_[choices_->choose(i + 1, ChoiceKind::kBatchShuffle)]);
  }
  std::vector<TaskRec*> order;
  order.swap(batch_);
  for (TaskRec* t : order) step(t);
  order.clear();
  batch_.swap(order);
}

// ============================================================================================
// wait_all_tasks_blocked, tokens, introspection
// ============================================================================================

void Runner::add_idle_waiter(Duration cushion, TaskRec* task) {
  IdleWaiter w{cushion, task->counter, task};
  auto it = std::upper_bound(
      idle_waiters_.begin(), idle_waiters_.end(), w, [](const IdleWaiter& a, const IdleWaiter& b) {
        return a.cushion != b.cushion ? a.cushion < b.cushion : a.counter < b.counter;
      });
  idle_waiters_.insert(it, w);
}

void Runner::remove_idle_waiter(TaskRec* task) {
  auto it = std::find_if(idle_waiters_.begin(), idle_waiters_.end(),
                         [&](const IdleWaiter& w) { return w.task == task; });
  if (it != idle_waiters_.end()) idle_waiters_.erase(it);
}

std::shared_ptr<TokenState> Runner::token_state() {
  if (!token_) {
    io_->enable_wakeups();
    token_ = std::make_shared<TokenState>();
    token_->io = io_;
  }
  return token_;
}

}  // namespace trio::internal

// ============================================================================================
// Task records
// ============================================================================================

std::string trio::internal::TaskRec::name() const {
  if (extras && !extras->name.empty()) return extras->name;
  if (is_init) return "<init>";
  if (is_main) return "main";
  const Nursery* n = parent_nursery ? parent_nursery : eventual_parent_nursery();
  if (n && n->parent_task() && !n->parent_task()->is_init)
    return absl::StrCat(n->parent_task()->name(), ".", counter);
  return absl::StrCat(is_system ? "system." : "task.", counter);
}
