// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// trio::Condition (Trio's trio.Condition), over a trio::Lock: see sync.h for the rules all
// primitives share.
#ifndef TRIO_RUNTIME_CONDITION_H_
#define TRIO_RUNTIME_CONDITION_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "runtime/lock.h"
#include "runtime/sync_common.h"

namespace trio {

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

#endif  // TRIO_RUNTIME_CONDITION_H_
