// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// trio::CapacityLimiter (Trio's trio.CapacityLimiter): see sync.h for the rules all primitives
// share.
#ifndef TRIO_RUNTIME_CAPACITY_LIMITER_H_
#define TRIO_RUNTIME_CAPACITY_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "runtime/sync_common.h"

namespace trio {

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

}  // namespace trio

#endif  // TRIO_RUNTIME_CAPACITY_LIMITER_H_
