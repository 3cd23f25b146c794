// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// trio::Semaphore (Trio's trio.Semaphore): see sync.h for the rules all primitives share.
#ifndef TRIO_RUNTIME_SEMAPHORE_H_
#define TRIO_RUNTIME_SEMAPHORE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "runtime/sync_common.h"

namespace trio {

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

}  // namespace trio

#endif  // TRIO_RUNTIME_SEMAPHORE_H_
