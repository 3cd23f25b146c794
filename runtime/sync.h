// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Synchronization primitives (Trio's `trio.Event`, `Lock`, `StrictFIFOLock`, `Semaphore`,
// `CapacityLimiter`, `Condition`; spec §1.7, §2.12), built only on the core's public and
// low-level API: `wait_task_rescheduled` / `reschedule`, `ParkingLot` with parking-lot breakers,
// and the three checkpoint functions — the same layering as Trio's `_sync.py`.
//
//   trio::Lock lock;
//   {
//     trio::LockGuard guard = co_await lock.acquire_guard();  // released when `guard` dies
//     co_await write_frame(...);
//   }
//   trio::Event done;
//   n.start_soon([&]() -> trio::Task<> { co_await done.wait(); });
//   done.set();
//
// Fairness (Trio's): every wait queue is FIFO — the longest waiter goes next — and a release
// hands the resource *directly* to the woken task (Lock ownership, a Semaphore unit, a
// CapacityLimiter token), so a task that releases and at once re-acquires queues up behind the
// tasks already waiting. Every `*_nowait` call fails with WouldBlock while others wait.
// `Event::set` wakes all its waiters at once, in an order Trio leaves open: the run's choice
// source (ChoiceKind::kWakeOrder) picks which waiter goes first, the others follow in waiting
// order (wrapping around), so a seed fixes the order and a harness can explore it.
//
// Checkpoints: every blocking call (`co_await x.acquire()`, `co_await event.wait()`,
// `co_await condition.wait()`) is a checkpoint — a cancel point and a schedule point — whenever
// it returns normally, blocked or not. They follow Trio's pattern: `checkpoint_if_cancelled()`,
// then the non-blocking attempt; on success `cancel_shielded_checkpoint()`, else block in a
// cancellable wait. So Cancelled means "nothing happened" (no unit taken, no ownership gained),
// and a misuse error (re-acquiring a held Lock) is raised without a schedule point, as in Trio.
// Every synchronous call (`set`, `release`, `*_nowait`, `notify*`, `statistics`) is not a
// checkpoint. None of them takes a timeout: wrap the call in a cancel scope (`move_on_after`).
//
// Blocking calls return awaiters: `co_await` them at once, inside a trio task. An awaiter refers
// to its primitive; a primitive must outlive every task waiting on it. Destroying one while
// tasks wait on it is a bug that wakes them with BrokenResourceError ("... destroyed while N
// task(s) were waiting on it ..."), rather than leaving them blocked forever.
//
// Errors (Trio's types and message text): WouldBlock from `*_nowait`; RuntimeError for misuse —
// "attempt to re-acquire an already held Lock", "can't release a Lock you don't own",
// "this borrower is already holding one of this CapacityLimiter's tokens", "this borrower isn't
// holding any of this CapacityLimiter's tokens", "must hold the lock to wait" / "... to notify";
// ValueError for bad values ("semaphore released too many times", "initial value must be >= 0",
// "max_values must be >= initial_value", "total_tokens must be >= 0"); BrokenResourceError("Owner
// of this lock exited without releasing: <task>") when a Lock's owner exits holding it. Passing
// a floating-point count where Trio raises TypeError does not compile.
//
// Names (for hang reports): every primitive can be named, with `set_name(name)` or as a
// constructor argument — `trio::Lock lock("accounts[bob]")`, `trio::Event ready("config
// loaded")`, `trio::CapacityLimiter pool(4, "db connections")`, `trio::Semaphore slots(3,
// std::nullopt, "slots")`, `trio::Condition nonempty(lock, "queue not empty")` — and `name()`
// returns it ("" if none). A DeadlockError's or a livelock report's task tree then says which
// object each blocked task waits on and who holds it:
//
//   task transfer alice->bob: blocked on Lock.acquire of lock 'accounts[bob]' (held by task
//       transfer bob->alice)
//
// An unnamed primitive shows as its kind and a number, "Lock#2": numbered per kind in the order
// the run's reports first mention them, so the same seed gives the same numbers. Naming
// allocates a copy of the name; an unnamed primitive costs one pointer and nothing on any path.
// The recorded trace events (testing/trace.h) never contain names, so naming a primitive does
// not change a trace or its hash. set_name and name are sync (not checkpoints).
//
// Not thread-safe: a primitive belongs to one run (use TrioToken to reach it from threads).
#ifndef TRIO_RUNTIME_SYNC_H_
#define TRIO_RUNTIME_SYNC_H_

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/errors.h"
#include "runtime/lowlevel.h"
#include "runtime/task.h"

namespace trio {

class Condition;

// Trio's `math.inf` for sizes and counts: an unbounded channel buffer, an unlimited
// CapacityLimiter.
inline constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();

namespace detail {

// ---- building blocks (shared with channel.h) ---------------------------------------------------

class WaitQueue;

// A waiting task's node in a WaitQueue. It lives in the waiting coroutine's frame (inside the
// awaiter), so waiting allocates nothing. Destroying a linked waiter unlinks it (an abandoned
// run destroys frames in any order).
struct Waiter {
  // Only `queue` is initialized: the other fields are set when the waiter is linked, and read
  // only while it is (no stores on the hot path of an awaiter that never parks).
  Waiter() noexcept {}
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  ~Waiter();

  lowlevel::TaskRecord* task;  // set by whoever links it
  WaitQueue* queue = nullptr;  // the queue this waiter is linked in, or null
  Waiter* prev;
  Waiter* next;
};

// An intrusive FIFO of waiters. Destroying a queue that still has waiters (its primitive was
// destroyed while tasks waited on it: a lifetime bug) wakes them with BrokenResourceError
// "... destroyed while N task(s) were waiting on it (in Event.wait) ...", instead of leaving
// them blocked forever. (When an abandoned run destroys its frames, it only detaches them.)
//
// The queue carries its primitive's label (kind and name) for hang reports: an awaiter parked in
// it is found through the task's abort hook (Blocking::wait_target), and the report names the
// primitive from the queue's label.
class WaitQueue {
 public:
  explicit WaitQueue(const internal::ObjectKind& kind) noexcept : label_(kind) {}
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;
  ~WaitQueue() {
    if (head_) [[unlikely]]
      wake_all_destroyed_();
  }

  bool empty() const noexcept { return head_ == nullptr; }
  size_t size() const noexcept { return size_; }
  Waiter* front() const noexcept { return head_; }
  const internal::ObjectLabel& label() const noexcept { return label_; }
  internal::ObjectLabel& label() noexcept { return label_; }

  void push_back(Waiter& w) noexcept {
    w.queue = this;
    w.next = nullptr;
    w.prev = tail_;
    if (tail_)
      tail_->next = &w;
    else
      head_ = &w;
    tail_ = &w;
    ++size_;
  }
  void remove(Waiter& w) noexcept {
    if (w.prev)
      w.prev->next = w.next;
    else
      head_ = w.next;
    if (w.next)
      w.next->prev = w.prev;
    else
      tail_ = w.prev;
    w.prev = w.next = nullptr;
    w.queue = nullptr;
    --size_;
  }
  Waiter* pop_front() noexcept {
    Waiter* w = head_;
    if (w) remove(*w);
    return w;
  }
  // Unlinks every waiter, front to back, calling fn(w) on each just before it is unlinked (as a
  // pop_front loop would, without relinking the next node each time). fn must not touch the
  // queue. If fn throws, the waiters from the one it threw on stay linked.
  template <class F>
  void drain(F&& fn) {
    Waiter* w = head_;
    try {
      while (w) {
        Waiter* next = w->next;
        fn(*w);
        w->queue = nullptr;
        --size_;
        w = next;
      }
    } catch (...) {
      head_ = w;  // (not null: fn threw on it)
      w->prev = nullptr;
      throw;
    }
    head_ = tail_ = nullptr;
  }

 private:
  void wake_all_destroyed_() noexcept;
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  internal::ObjectLabel label_;
  // 32 bits (a waiter is a coroutine frame: there are never 2^32 of them), last: an Event's flag
  // fits in the tail padding, so an Event stays four words (see Event).
  uint32_t size_ = 0;
};

// ObjectKind::owners of a CapacityLimiter (its borrowers).
void limiter_borrowers(const void* queue, std::vector<const void*>& out);

// The kinds of the primitives below, for hang reports (object_label.h).
extern const internal::ObjectKind kEventKind;
extern const internal::ObjectKind kLockKind;
extern const internal::ObjectKind kStrictFIFOLockKind;
extern const internal::ObjectKind kConditionKind;
extern const internal::ObjectKind kSemaphoreKind;
extern const internal::ObjectKind kCapacityLimiterKind;

inline Waiter::~Waiter() {
  if (queue) queue->remove(*this);
}

// What a non-blocking attempt found.
enum class Attempt : uint8_t {
  kDone,        // it happened
  kWouldBlock,  // it would have to wait
  kHeld,        // misuse: the caller already holds it
  kClosed,      // ClosedResourceError
  kBroken,      // BrokenResourceError
  kEnd,         // EndOfChannel
};

// Raised where Trio asserts "this should never happen": a task suspended in
// checkpoint_if_cancelled() was no longer cancelled when it resumed (another task raised a
// shield meanwhile), and the operation would now block — it can no longer wait from here.
[[noreturn]] void raise_vanished_cancel(const char* operation);

// The checkpoints of Trio's maybe-blocking pattern (spec §2.1.4), as parts an awaiter composes:
//   if (b.cancelled(h)) return true;                 // checkpoint_if_cancelled()
//   if (attempt() == kDone) { b.completed_at_once(h); return true; }  // cancel_shielded_...
//   b.park(h, queue, waiter, "What.wait"); return true;                // wait_task_rescheduled
// and in await_resume, `b.resume()` raises what the suspension delivered. Each part does exactly
// what the lowlevel awaiter it stands for does (checkpoint_if_cancelled(), checkpoint(),
// cancel_shielded_checkpoint(), wait_task_rescheduled with an abort that unlinks the waiter),
// inlined into one small object: these are the hot paths of every primitive and channel.
class Blocking final : internal::AbortHook {
 public:
  Blocking() noexcept {}  // task_ and waiter_ are set by the part that uses them
  Blocking(const Blocking&) = delete;
  Blocking& operator=(const Blocking&) = delete;

  // checkpoint_if_cancelled(): true if the task is cancelled (it is now suspended in a full
  // checkpoint, and resume() raises Cancelled). Otherwise counts a cancel point and returns false.
  template <internal::TrioPromise P>
  bool cancelled(std::coroutine_handle<P> h) {
    task_ = h.promise().task;
    const bool interrupt = task_->runner->at_cancel_point(task_);
    if (!internal::is_effectively_cancelled(task_) && !interrupt) [[likely]] {
      ++task_->cancel_points;
      return false;
    }
    step_ = Step::kCancelled;
    internal::checkpoint_suspend(task_, h, true);
    return true;
  }
  // A full checkpoint (instead of cancelled()).
  template <internal::TrioPromise P>
  void checkpoint(std::coroutine_handle<P> h) {
    task_ = h.promise().task;
    step_ = Step::kCheckpoint;
    internal::checkpoint_suspend(task_, h, true);
  }
  // After cancelled() returned false: the operation succeeded at once; its schedule point
  // (cancel_shielded_checkpoint()).
  void completed_at_once(std::coroutine_handle<> h) {
    step_ = Step::kAtOnce;
    internal::checkpoint_suspend(task_, h, false);
  }
  // Links `w` (for the current task) at the back of `q` and blocks until rescheduled; a
  // cancellation unlinks it. A cancel point and a schedule point.
  template <internal::TrioPromise P>
  void park(std::coroutine_handle<P> h, WaitQueue& q, Waiter& w, const char* waiting_on) {
    task_ = h.promise().task;
    w.task = task_;
    q.push_back(w);
    waiter_ = &w;
    step_ = Step::kParked;
    internal::block_suspend(task_, h, this, waiting_on);
  }
  // Raises Cancelled or the exception the waker passed to reschedule(). Returns true in the one
  // case where the caller must retry its non-blocking attempt: the task was cancelled at
  // checkpoint_if_cancelled() but no longer was when it resumed.
  bool resume() {
    if (step_ == Step::kNone || step_ == Step::kAtOnce) return false;
    internal::rethrow_if_outcome(task_);
    return step_ == Step::kCancelled;
  }
  bool parked() const noexcept { return step_ == Step::kParked; }
  // The attempt succeeded at once (completed_at_once): nothing to raise. A task that yielded
  // without blocking cannot be rescheduled with an outcome, and its schedule point does not
  // raise Cancelled, so resume() would have nothing to do.
  bool completed() const noexcept { return step_ == Step::kAtOnce; }
  // The task running the operation (set by the first part called).
  lowlevel::TaskRecord* task() const noexcept { return task_; }

 private:
  enum class Step : uint8_t { kNone, kCancelled, kCheckpoint, kParked, kAtOnce };
  // The abort of a park: a cancelled waiter leaves its queue (Abort.SUCCEEDED).
  bool try_abort(internal::TaskRec&) override {
    if (waiter_->queue) waiter_->queue->remove(*waiter_);
    return true;
  }
  // For hang reports: the queue of the park (the only wait that installs this hook).
  internal::WaitTarget wait_target(const internal::TaskRec&) const override {
    const WaitQueue* q = waiter_->queue;
    return q ? internal::WaitTarget{q, &q->label()} : internal::WaitTarget{};
  }

  Step step_ = Step::kNone;
  internal::TaskRec* task_;
  Waiter* waiter_;
};

// An acquire awaiter whose result is a LockGuard (see LockGuard below).
template <class Acquire>
class [[nodiscard]] GuardedAcquire : public Acquire {
 public:
  using Acquire::Acquire;
  auto await_resume();
};

class LockImpl;
class LockAcquire;
class EventWait;
class SemaphoreAcquire;
class LimiterAcquire;

}  // namespace detail

// ---- LockGuard ---------------------------------------------------------------------------------

// Releases a held Lock / StrictFIFOLock / Semaphore / CapacityLimiter / Condition when
// destroyed (Trio's `async with lock:`). Get one from `co_await x.acquire_guard()`; entering is
// the acquire's checkpoint, and the release is synchronous — not a checkpoint — so it also runs
// while a Cancelled unwinds. Move-only. The guard must be destroyed (or release()d) by the task
// that acquired: a Lock released by another task is a misuse that terminates (destructors
// cannot throw). When an abandoned run destroys frames outside any task, it releases nothing.
class [[nodiscard]] LockGuard {
 public:
  LockGuard() = default;
  template <class L>
  explicit LockGuard(L& held)
      : target_(&held), release_([](void* p) { static_cast<L*>(p)->release(); }) {}
  LockGuard(LockGuard&& other) noexcept
      : target_(std::exchange(other.target_, nullptr)), release_(other.release_) {}
  LockGuard& operator=(LockGuard&& other) noexcept {
    if (this != &other) {
      reset_();
      target_ = std::exchange(other.target_, nullptr);
      release_ = other.release_;
    }
    return *this;
  }
  ~LockGuard() { reset_(); }

  // True until released.
  bool owns_lock() const noexcept { return target_ != nullptr; }
  // Releases now (sync; the errors of the primitive's release()).
  void release() {
    if (void* t = std::exchange(target_, nullptr)) release_(t);
  }

 private:
  void reset_() noexcept;
  void* target_ = nullptr;
  void (*release_)(void*) = nullptr;
};

namespace detail {
template <class Acquire>
auto GuardedAcquire<Acquire>::await_resume() {
  Acquire::await_resume();
  return LockGuard(this->target());
}
}  // namespace detail

// ---- Event -------------------------------------------------------------------------------------

struct EventStatistics {
  size_t tasks_waiting = 0;
};

// A one-shot flag (Trio's trio.Event): `wait()` blocks until `set()` is called; once set it
// stays set (there is no clear(): make a new Event). No conversion to bool (Trio raises on
// `bool(event)`): use is_set().
//
//   co_await event.wait();   // a checkpoint even if already set; cancellable while waiting
//   event.set();             // idempotent; wakes every waiter; not a checkpoint
class Event {
 public:
  Event() noexcept = default;
  // An event named for hang reports (see the file comment).
  explicit Event(std::string_view name) { set_name(name); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const noexcept { return flag_; }
  // Sets the flag and wakes every waiting task: the first is drawn from the run's choice source,
  // the others follow in waiting order, wrapping around (Trio's order is unspecified).
  // Idempotent. Not a checkpoint.
  void set();
  // Blocks until the flag is set. If it is already set: a full checkpoint (raises Cancelled if
  // the task is cancelled). Otherwise a cancellable wait. Always a checkpoint.
  detail::EventWait wait();
  EventStatistics statistics() const noexcept { return {waiters_.size()}; }
  // Names the event in hang reports ("Event.wait of event 'config loaded'"; unnamed:
  // "Event#1"); "" makes it unnamed again. Sync.
  void set_name(std::string_view name) { waiters_.label().set_name(name); }
  std::string_view name() const noexcept { return waiters_.label().name(); }

 private:
  friend class detail::EventWait;
  // The queue first and overlappable, so that flag_ takes its tail padding: four words, as
  // before events had names (a std::deque<Event> indexes by a power of two, see
  // bench/instructions.sh's event scenario).
  [[no_unique_address]] detail::WaitQueue waiters_{detail::kEventKind};
  bool flag_ = false;
};
#if defined(__x86_64__) && !defined(_GLIBCXX_DEBUG)
static_assert(sizeof(Event) == 32, "an Event is four words");
#endif

namespace detail {
class [[nodiscard]] EventWait {
 public:
  explicit EventWait(Event& e) : event_(&e) {}
  EventWait(const EventWait&) = delete;
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    if (event_->flag_)
      b_.checkpoint(h);
    else
      b_.park(h, event_->waiters_, node_, "Event.wait");
  }
  void await_resume() { b_.resume(); }

 private:
  Event* event_;
  Waiter node_;
  Blocking b_;
};
}  // namespace detail

inline detail::EventWait Event::wait() { return detail::EventWait(*this); }

// ---- Lock, StrictFIFOLock ----------------------------------------------------------------------

struct LockStatistics {
  bool locked = false;
  // The holding task; null if unlocked, or if the holder exited without releasing (its record
  // no longer exists; the lock is then broken and locked stays true).
  lowlevel::TaskRecord* owner = nullptr;
  size_t tasks_waiting = 0;
};

namespace detail {

// Trio's _LockImpl: a non-reentrant mutex owned by a task.
class LockImpl {
 public:
  LockImpl(const LockImpl&) = delete;
  LockImpl& operator=(const LockImpl&) = delete;

  // True while some task holds the lock (or its holder exited without releasing).
  bool locked() const noexcept { return owner_ != nullptr; }
  // Takes the lock without blocking. WouldBlock if it is held or tasks are waiting for it;
  // RuntimeError("attempt to re-acquire an already held Lock") if the caller holds it. Sync.
  void acquire_nowait();
  // Takes the lock, waiting in FIFO order if needed. RuntimeError as acquire_nowait (raised
  // without a schedule point); BrokenResourceError("Owner of this lock exited without releasing:
  // <task>") if the holder exits while we wait, or exited before. Always a checkpoint.
  LockAcquire acquire();
  // As acquire(), returning a LockGuard that releases the lock.
  GuardedAcquire<LockAcquire> acquire_guard();
  // Releases the lock, handing it straight to the longest waiter if any. RuntimeError("can't
  // release a Lock you don't own") unless the caller holds it. Sync: not a checkpoint.
  void release();
  LockStatistics statistics() const noexcept;
  // Names the lock in hang reports, which then say who holds it: "Lock.acquire of lock
  // 'accounts[bob]' (held by task t)"; unnamed: "Lock#2". "" makes it unnamed again. Sync.
  void set_name(std::string_view name) { lot_.set_name(name); }
  std::string_view name() const noexcept { return lot_.name(); }

 protected:
  LockImpl(const char* waiting_on, const internal::ObjectKind& kind) noexcept
      : lot_(kind), waiting_on_(waiting_on) {}
  ~LockImpl();

 private:
  friend class LockAcquire;
  friend class ::trio::Condition;
  // `me` is the calling task.
  [[gnu::always_inline]] Attempt try_acquire_(lowlevel::TaskRecord* me) {
    if (owner_ == nullptr && lot_.empty() && !lot_.broken()) [[likely]] {
      owner_ = me;
      register_owner_(me);
      return Attempt::kDone;
    }
    return try_acquire_slow_(me);
  }
  // Registers the new owner (running, or blocked in lot_: alive) as the lot's breaker. The lot
  // has at most one registration, the last owner's: active while it holds the lock, dormant once
  // it released it (see BreakerLink::dormant). O(1), allocates nothing in steady state.
  [[gnu::always_inline]] void register_owner_(lowlevel::TaskRecord* owner) {
    if (registered_run_ == owner->runner->run_id()) [[likely]] {
      lowlevel::BreakerLink* link = lot_.first_breaker_link_();
      if (link && link->task == owner) [[likely]] {  // the same task re-acquires
        link->dormant = false;
        return;
      }
    }
    register_new_owner_(owner);
  }
  void register_new_owner_(lowlevel::TaskRecord* owner);
  Attempt try_acquire_slow_(lowlevel::TaskRecord* me);
  [[noreturn]] static void raise_not_owner_();
  void hand_off_();
  // The BrokenResourceError to raise for a park that failed with `e` (the lot was broken).
  // Static: the lock may be gone (a lot destroyed with waiters wakes them with an error).
  [[noreturn]] static void raise_owner_exited_(const BrokenResourceError& e);

  lowlevel::TaskRecord* owner_ = nullptr;
  // Waiting acquirers (and Condition waiters reparked here). The owner is registered as its
  // breaker: if the owner exits holding the lock, the runtime breaks it.
  lowlevel::ParkingLot lot_;
  // The run (Runner::run_id) in which lot_'s breaker registration, if any, was made. A lock may
  // outlive an abandoned run, whose registrations are gone unseen.
  uint64_t registered_run_ = 0;
  const char* waiting_on_;
};

class [[nodiscard]] LockAcquire {
 public:
  explicit LockAcquire(LockImpl& lock) : lock_(&lock) {}
  LockAcquire(const LockAcquire&) = delete;
  bool await_ready() const noexcept { return false; }
  template <class P>
  [[gnu::always_inline]] bool await_suspend(std::coroutine_handle<P> h) {
    if (b_.cancelled(h)) [[unlikely]]
      return true;
    attempt_ = lock_->try_acquire_(b_.task());
    if (attempt_ == Attempt::kDone) [[likely]] {
      b_.completed_at_once(h);
      return true;
    }
    return suspend_slow_(h);
  }
  [[gnu::always_inline]] void await_resume() {
    if (!b_.completed()) [[unlikely]]  // (completed: the uncontended path, nothing to raise)
      resume_slow_();
  }
  LockImpl& target() const noexcept { return *lock_; }

 private:
  template <class P>
  [[gnu::noinline]] bool suspend_slow_(std::coroutine_handle<P> h) {
    if (attempt_ != Attempt::kWouldBlock) return false;  // misuse: raise in await_resume
    // Trio's contended path is exactly `lot.park()`: Condition.wait re-acquires the same way.
    park_ = lock_->lot_.park(lock_->waiting_on_);
    park_awaiter_ = std::move(park_).operator co_await();
    park_awaiter_.await_suspend(h);
    return true;
  }
  void resume_slow_();
  LockImpl* lock_;
  Attempt attempt_ = Attempt::kDone;
  Blocking b_;
  Task<> park_;
  Task<>::Awaiter park_awaiter_{};
};

}  // namespace detail

// Trio's trio.Lock: a non-reentrant mutex; only its owner may release it. Waiters are served in
// FIFO order and release() hands ownership straight to the next one.
//
//   trio::Lock lock;
//   co_await lock.acquire();
//   ...
//   lock.release();
//   // or, with RAII:
//   trio::LockGuard guard = co_await lock.acquire_guard();
//
// If the owner exits while holding the lock, the lock breaks: waiters and later acquirers get
// BrokenResourceError("Owner of this lock exited without releasing: <task name>").
class Lock final : public detail::LockImpl {
 public:
  Lock() noexcept : LockImpl("Lock.acquire", detail::kLockKind) {}
  // A lock named for hang reports (see set_name).
  explicit Lock(std::string_view name) : Lock() { set_name(name); }
};

// Trio's trio.StrictFIFOLock: a Lock that promises strict FIFO hand-off whatever the scheduler
// does (today the same as Lock; using it documents that your code relies on the order).
class StrictFIFOLock final : public detail::LockImpl {
 public:
  StrictFIFOLock() noexcept : LockImpl("StrictFIFOLock.acquire", detail::kStrictFIFOLockKind) {}
  // A lock named for hang reports (see set_name).
  explicit StrictFIFOLock(std::string_view name) : StrictFIFOLock() { set_name(name); }
};

inline detail::LockAcquire detail::LockImpl::acquire() { return LockAcquire(*this); }
inline void detail::LockImpl::release() {
  lowlevel::TaskRecord* me = &lowlevel::current_task();
  if (me != owner_ || lot_.broken()) [[unlikely]]
    raise_not_owner_();
  if (lot_.empty()) [[likely]] {
    lot_.first_breaker_link_()->dormant = true;  // ours (the lot is not broken)
    owner_ = nullptr;
    return;
  }
  hand_off_();
}
inline detail::GuardedAcquire<detail::LockAcquire> detail::LockImpl::acquire_guard() {
  return GuardedAcquire<LockAcquire>(*this);
}

// ---- Semaphore ---------------------------------------------------------------------------------

// Trio's trio.Semaphore: a counter that acquire() decrements, blocking at zero, and release()
// increments. With a `max_value` it is bounded: releasing past it is a ValueError. release()
// with tasks waiting hands the unit straight to the longest waiter (the value stays 0).
//
//   trio::Semaphore slots(3);
//   trio::LockGuard slot = co_await slots.acquire_guard();
class Semaphore {
 public:
  // ValueError("initial value must be >= 0"), ValueError("max_values must be >= initial_value").
  explicit Semaphore(int64_t initial_value, std::optional<int64_t> max_value = std::nullopt);
  // A semaphore named for hang reports (see set_name).
  Semaphore(int64_t initial_value, std::optional<int64_t> max_value, std::string_view name)
      : Semaphore(initial_value, max_value) {
    set_name(name);
  }
  // Trio raises TypeError for a float value.
  template <std::floating_point F>
  explicit Semaphore(F, std::optional<int64_t> = std::nullopt) = delete;
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  int64_t value() const noexcept { return value_; }
  std::optional<int64_t> max_value() const noexcept { return max_value_; }

  // Decrements the value; WouldBlock if it is 0. Sync.
  void acquire_nowait();
  // Decrements the value, waiting (FIFO) while it is 0. Always a checkpoint.
  detail::SemaphoreAcquire acquire();
  detail::GuardedAcquire<detail::SemaphoreAcquire> acquire_guard();
  // Wakes the longest waiter (giving it the unit) or increments the value;
  // ValueError("semaphore released too many times") past max_value. Sync.
  void release();
  lowlevel::ParkingLotStatistics statistics() const noexcept { return {waiters_.size()}; }
  // Names the semaphore in hang reports ("Semaphore.acquire of semaphore 'slots'"; unnamed:
  // "Semaphore#1"); "" makes it unnamed again. Sync.
  void set_name(std::string_view name) { waiters_.label().set_name(name); }
  std::string_view name() const noexcept { return waiters_.label().name(); }

 private:
  friend class detail::SemaphoreAcquire;
  detail::Attempt try_acquire_() noexcept {
    if (value_ == 0) return detail::Attempt::kWouldBlock;
    --value_;  // value > 0 implies nobody waits
    return detail::Attempt::kDone;
  }
  int64_t value_;
  std::optional<int64_t> max_value_;
  detail::WaitQueue waiters_{detail::kSemaphoreKind};
};

namespace detail {
class [[nodiscard]] SemaphoreAcquire {
 public:
  explicit SemaphoreAcquire(Semaphore& s) : sem_(&s) {}
  SemaphoreAcquire(const SemaphoreAcquire&) = delete;
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    if (b_.cancelled(h)) return;
    if (sem_->try_acquire_() == Attempt::kDone)
      b_.completed_at_once(h);
    else
      b_.park(h, sem_->waiters_, node_, "Semaphore.acquire");
  }
  void await_resume() {
    if (b_.resume() && sem_->try_acquire_() != Attempt::kDone)
      raise_vanished_cancel("Semaphore.acquire");
  }
  Semaphore& target() const noexcept { return *sem_; }

 private:
  Semaphore* sem_;
  Waiter node_;
  Blocking b_;
};
}  // namespace detail

inline detail::SemaphoreAcquire Semaphore::acquire() { return detail::SemaphoreAcquire(*this); }
inline detail::GuardedAcquire<detail::SemaphoreAcquire> Semaphore::acquire_guard() {
  return detail::GuardedAcquire<detail::SemaphoreAcquire>(*this);
}

// ---- CapacityLimiter ---------------------------------------------------------------------------

struct CapacityLimiterStatistics {
  size_t borrowed_tokens = 0;
  int64_t total_tokens = 0;  // kUnbounded for Trio's math.inf
  // Who holds a token, in the order they got it.
  std::vector<const void*> borrowers;
  size_t tasks_waiting = 0;
};

// Trio's trio.CapacityLimiter: a sack of `total_tokens` tokens; each borrower holds at most one.
// A borrower is any identity: acquire() borrows for the current task (its TaskRecord's address),
// acquire_on_behalf_of(p) for an arbitrary pointer `p` (e.g. a thread's job).
//
//   trio::CapacityLimiter limit(40);
//   trio::LockGuard token = co_await limit.acquire_guard();
//
// Raising total_tokens wakes waiters at once; lowering it lets current borrowers finish.
class CapacityLimiter {
 public:
  // total_tokens >= 0 (0 is allowed, as since Trio 0.32), or kUnbounded;
  // ValueError("total_tokens must be >= 0") otherwise.
  explicit CapacityLimiter(int64_t total_tokens);
  // A limiter named for hang reports (see set_name).
  CapacityLimiter(int64_t total_tokens, std::string_view name) : CapacityLimiter(total_tokens) {
    set_name(name);
  }
  template <std::floating_point F>
  explicit CapacityLimiter(F) = delete;  // Trio: TypeError
  CapacityLimiter(const CapacityLimiter&) = delete;
  CapacityLimiter& operator=(const CapacityLimiter&) = delete;

  int64_t total_tokens() const noexcept { return total_tokens_; }
  // Changes the capacity; waiters that now fit are woken (FIFO) at once. Same ValueError. Sync.
  void set_total_tokens(int64_t total_tokens);
  template <std::floating_point F>
  void set_total_tokens(F) = delete;
  size_t borrowed_tokens() const noexcept { return waiters_.borrowers.size(); }
  // total_tokens - borrowed_tokens (negative after a decrease; kUnbounded if unlimited).
  int64_t available_tokens() const noexcept;

  // Borrows a token for the current task / for `borrower`. WouldBlock if none is free or tasks
  // are waiting; RuntimeError("this borrower is already holding one of this CapacityLimiter's
  // tokens"). Sync.
  void acquire_nowait();
  void acquire_on_behalf_of_nowait(const void* borrower);
  // As above, waiting (FIFO) for a token. Always a checkpoint.
  detail::LimiterAcquire acquire();
  detail::LimiterAcquire acquire_on_behalf_of(const void* borrower);
  detail::GuardedAcquire<detail::LimiterAcquire> acquire_guard();
  // Returns the token; RuntimeError("this borrower isn't holding any of this CapacityLimiter's
  // tokens"). Wakes the longest waiter if a token is free. Sync.
  void release();
  void release_on_behalf_of(const void* borrower);
  CapacityLimiterStatistics statistics() const;
  // Names the limiter in hang reports, which then list its borrowers: "CapacityLimiter.acquire
  // of limiter 'db connections' (borrowed by task a, task b)"; unnamed: "CapacityLimiter#1".
  // "" makes it unnamed again. Sync.
  void set_name(std::string_view name) { waiters_.label().set_name(name); }
  std::string_view name() const noexcept { return waiters_.label().name(); }

 private:
  friend class detail::LimiterAcquire;
  struct Waiter : detail::Waiter {
    const void* borrower = nullptr;
  };
  // The waiters and the borrowers in one object, so that a hang report, which finds a blocked
  // task's queue, also finds who holds the tokens.
  struct Queue : detail::WaitQueue {
    Queue() noexcept : WaitQueue(detail::kCapacityLimiterKind) {}
    // Who holds a token, in the order they got it.
    std::vector<const void*> borrowers;
  };
  friend void detail::limiter_borrowers(const void* queue, std::vector<const void*>& out);
  detail::Attempt try_acquire_(const void* borrower);
  void wake_waiters_();

  int64_t total_tokens_;
  Queue waiters_;
};

namespace detail {
class [[nodiscard]] LimiterAcquire {
 public:
  LimiterAcquire(CapacityLimiter& l, const void* borrower) : limiter_(&l) {
    node_.borrower = borrower;
  }
  LimiterAcquire(const LimiterAcquire&) = delete;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    if (b_.cancelled(h)) return true;
    attempt_ = limiter_->try_acquire_(node_.borrower);
    if (attempt_ == Attempt::kDone) {
      b_.completed_at_once(h);
      return true;
    }
    if (attempt_ != Attempt::kWouldBlock) return false;  // misuse: raise in await_resume
    b_.park(h, limiter_->waiters_, node_, "CapacityLimiter.acquire");
    return true;
  }
  void await_resume() {
    if (!b_.completed())  // (completed: a token was free, nothing to raise)
      resume_slow_();
  }
  CapacityLimiter& target() const noexcept { return *limiter_; }

 private:
  void resume_slow_();
  CapacityLimiter* limiter_;
  Attempt attempt_ = Attempt::kDone;
  CapacityLimiter::Waiter node_;
  Blocking b_;
};
}  // namespace detail

inline detail::LimiterAcquire CapacityLimiter::acquire_on_behalf_of(const void* borrower) {
  return detail::LimiterAcquire(*this, borrower);
}
inline detail::LimiterAcquire CapacityLimiter::acquire() {
  return detail::LimiterAcquire(*this, &lowlevel::current_task());
}
inline detail::GuardedAcquire<detail::LimiterAcquire> CapacityLimiter::acquire_guard() {
  return detail::GuardedAcquire<detail::LimiterAcquire>(*this, &lowlevel::current_task());
}

// ---- Condition ---------------------------------------------------------------------------------

struct ConditionStatistics {
  size_t tasks_waiting = 0;
  LockStatistics lock_statistics;
};

// Trio's trio.Condition: a condition variable over a trio::Lock (its own, or one you pass; a
// StrictFIFOLock is not accepted, as in Trio).
//
//   trio::LockGuard guard = co_await cond.acquire_guard();
//   while (!ready) co_await cond.wait();   // releases the lock while waiting
//
// wait() releases the lock and parks; notify()/notify_all() move waiters, in order, onto the
// lock's queue, so they re-acquire it one by one in FIFO order. A cancelled wait() re-acquires
// the lock (shielded from the cancellation) before raising Cancelled, so the caller always holds
// the lock when wait() returns or raises.
class Condition {
 public:
  Condition() : lock_(&own_lock_) {}
  explicit Condition(Lock& lock) : lock_(&lock) {}
  // A condition named for hang reports (see set_name); its own lock stays unnamed.
  explicit Condition(std::string_view name) : Condition() { set_name(name); }
  Condition(Lock& lock, std::string_view name) : Condition(lock) { set_name(name); }
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  Lock& lock() noexcept { return *lock_; }
  bool locked() const noexcept { return lock_->locked(); }
  void acquire_nowait() { lock_->acquire_nowait(); }
  detail::LockAcquire acquire() { return lock_->acquire(); }
  detail::GuardedAcquire<detail::LockAcquire> acquire_guard() { return lock_->acquire_guard(); }
  void release() { lock_->release(); }

  // Waits for notify(). RuntimeError("must hold the lock to wait") if the caller does not hold
  // the lock (raised before any checkpoint). Returns, or raises (Cancelled,
  // BrokenResourceError), holding the lock again. Always a checkpoint.
  Task<> wait();
  // Wakes up to `n` waiters (the longest-waiting first); they take the lock in turn.
  // RuntimeError("must hold the lock to notify"). Sync.
  void notify(size_t n = 1);
  void notify_all();
  ConditionStatistics statistics() const noexcept;
  // Names the condition in hang reports ("Condition.wait of condition 'queue not empty'";
  // unnamed: "Condition#1"). A notified waiter waits for the lock: the report then names the
  // lock and its holder. "" makes it unnamed again. Sync.
  void set_name(std::string_view name) { lot_.set_name(name); }
  std::string_view name() const noexcept { return lot_.name(); }

 private:
  void check_owner_(const char* message) const;
  Lock own_lock_;
  Lock* lock_;
  lowlevel::ParkingLot lot_{detail::kConditionKind};
};

}  // namespace trio

#endif  // TRIO_RUNTIME_SYNC_H_
