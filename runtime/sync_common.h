// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// What every synchronization primitive (and channel.h) shares: kUnbounded, the wait queue
// (detail::WaitQueue, Waiter, Blocking, Attempt) and LockGuard, the guard every acquire_guard()
// returns. The primitives themselves: event.h, lock.h, semaphore.h, capacity_limiter.h,
// condition.h; sync.h includes them all and documents their shared rules.
#ifndef TRIO_RUNTIME_SYNC_COMMON_H_
#define TRIO_RUNTIME_SYNC_COMMON_H_

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

}  // namespace trio

#endif  // TRIO_RUNTIME_SYNC_COMMON_H_
