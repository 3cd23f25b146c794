// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// trio::Lock and trio::StrictFIFOLock (Trio's trio.Lock, trio.StrictFIFOLock) and the lock
// implementation they share: see sync.h for the rules all primitives share.
#ifndef TRIO_RUNTIME_LOCK_H_
#define TRIO_RUNTIME_LOCK_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "runtime/sync_common.h"

namespace trio {

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

}  // namespace trio

#endif  // TRIO_RUNTIME_LOCK_H_
