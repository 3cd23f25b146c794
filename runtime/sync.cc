// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/sync.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/cancel_scope.h"
#include "runtime/choice.h"
#include "runtime/internal/runner.h"

namespace trio {

namespace detail {

void raise_vanished_cancel(const char* operation) {
  throw TrioInternalError(
      std::string(operation) +
      ": the task was cancelled at checkpoint_if_cancelled() but no longer was when it resumed "
      "(a shield was raised meanwhile), and the operation would now block (Trio asserts here "
      "too)");
}

// ---- kinds, for hang reports -------------------------------------------------------------------

namespace {
// A Lock's owner is its lot's active breaker registration (the lock registers its holder so
// that the holder's exit breaks it; the registration is dormant while the lock is free).
void lock_owners(const void* queue, std::vector<const void*>& out) {
  const auto* lot = static_cast<const lowlevel::ParkingLot*>(queue);
  for (const lowlevel::BreakerLink* link = lot->first_breaker_link_(); link; link = link->lot_next)
    if (!link->dormant) out.push_back(link->task);
}
}  // namespace

void limiter_borrowers(const void* queue, std::vector<const void*>& out) {
  const auto* q = static_cast<const CapacityLimiter::Queue*>(static_cast<const WaitQueue*>(queue));
  out.insert(out.end(), q->borrowers.begin(), q->borrowers.end());
}

const internal::ObjectKind kEventKind{.name = "Event", .noun = "event"};
const internal::ObjectKind kLockKind{
    .name = "Lock", .noun = "lock", .owned_verb = "held by", .owners = lock_owners};
const internal::ObjectKind kStrictFIFOLockKind{
    .name = "StrictFIFOLock", .noun = "lock", .owned_verb = "held by", .owners = lock_owners};
const internal::ObjectKind kConditionKind{.name = "Condition", .noun = "condition"};
const internal::ObjectKind kSemaphoreKind{.name = "Semaphore", .noun = "semaphore"};
const internal::ObjectKind kCapacityLimiterKind{.name = "CapacityLimiter",
                                                .noun = "limiter",
                                                .owned_verb = "borrowed by",
                                                .owners = limiter_borrowers};

// ---- WaitQueue ---------------------------------------------------------------------------------

void WaitQueue::wake_all_destroyed_() noexcept {
  internal::Runner* runner = internal::Runner::current();
  if (!runner || runner->tearing_down_) {  // the tasks may be gone already: only detach
    for (Waiter* w = head_; w; w = w->next) w->queue = nullptr;
    return;
  }
  const char* operation = head_->task->waiting_on ? head_->task->waiting_on : "a wait";
  const std::exception_ptr error = std::make_exception_ptr(BrokenResourceError(
      absl::StrCat("the object was destroyed while ", size_, " task(s) were waiting on it (in ",
                   operation, "): destroy a primitive only after its waiters have left")));
  while (Waiter* w = pop_front()) runner->reschedule(w->task, error);
}

}  // namespace detail

void LockGuard::reset_() noexcept {
  if (!target_) return;
  try {
    release();
  } catch (...) {
    // Outside any task an abandoned run is destroying frames: there is nothing to release to.
    // Inside a task, a failed release is a misuse (released by a task that does not hold it).
    if (lowlevel::in_trio_task()) std::terminate();
  }
}

// ---- Event -------------------------------------------------------------------------------------

void Event::set() {
  if (flag_) return;
  flag_ = true;
  // Trio wakes the waiters in no particular order (they sit in a set). Here the run's choice
  // source picks the first one; the rest follow in waiting order, wrapping around. A rotation
  // costs one choice and keeps the waiters' frames in allocation order (a full shuffle of 10k
  // waiters was 25x slower, from cache misses); every waiter can come first, and the
  // scheduler's batch policy (coin flip, or kShuffle for every permutation) orders them further.
  const size_t n = waiters_.size();
  if (n == 0) return;
  const uint64_t r = n > 1 ? lowlevel::random_choice(n, ChoiceKind::kWakeOrder) : 0;
  internal::Runner* runner = waiters_.front()->task->runner;
  if (r == 0 || !runner || runner->has_instruments()) {
    // Rotate the waiters themselves, so the instruments see task_scheduled in wake order.
    for (uint64_t i = r; i > 0; --i) waiters_.push_back(*waiters_.pop_front());
    while (detail::Waiter* w = waiters_.pop_front()) lowlevel::reschedule(*w->task);
    return;
  }
  // Wake in waiting order, then rotate the run queue's new tail segment in O(1): the same order
  // without walking (and missing the cache on) r waiter nodes twice. Every waiter belongs to
  // this thread's one run.
  internal::TaskRec* const before = runner->runq_tail();
  internal::TaskRec* last = nullptr;
  {
    internal::Runner::BulkReschedule wake(*runner);
    uint64_t i = 0;
    waiters_.drain([&](detail::Waiter& w) {
      wake.add(w.task);
      if (++i == r) last = w.task;
    });
  }
  runner->rotate_runq(before, last);
}

// ---- Lock --------------------------------------------------------------------------------------

namespace detail {

void LockImpl::register_new_owner_(lowlevel::TaskRecord* owner) {
  const uint64_t run = owner->runner->run_id();
  if (registered_run_ == run) {
    if (lowlevel::BreakerLink* link = lot_.first_breaker_link_())
      lowlevel::detail::unlink_breaker(link);
  } else {
    lot_.forget_breaker_links_();  // made by an abandoned run, if any
    registered_run_ = run;
  }
  lowlevel::detail::link_breaker(*owner, lot_);
}

Attempt LockImpl::try_acquire_slow_(lowlevel::TaskRecord* me) {
  // A broken lot means the owner exited: `owner_` is a dead task's address (which a new task may
  // reuse), so it is never compared with the caller. Acquiring then parks and raises.
  if (lot_.broken()) return Attempt::kWouldBlock;
  if (owner_ == me) return Attempt::kHeld;
  return Attempt::kWouldBlock;  // (a free lot that nobody waits for is try_acquire_'s fast path)
}

void LockImpl::acquire_nowait() {
  switch (try_acquire_(&lowlevel::current_task())) {
    case Attempt::kDone:
      return;
    case Attempt::kHeld:
      throw RuntimeError("attempt to re-acquire an already held Lock");
    default:
      throw WouldBlock();
  }
}

void LockImpl::raise_not_owner_() { throw RuntimeError("can't release a Lock you don't own"); }

void LockImpl::hand_off_() {
  // Hand the lock straight to the longest waiter (it may be a Condition waiter reparked here;
  // it is blocked, so it has not exited).
  owner_ = lot_.unpark_one();
  register_owner_(owner_);
}

LockImpl::~LockImpl() {
  // A registration left by an abandoned run must not be touched by ~ParkingLot.
  internal::Runner* runner = internal::Runner::current();
  if (!runner || runner->run_id() != registered_run_) lot_.forget_breaker_links_();
}

LockStatistics LockImpl::statistics() const noexcept {
  return {locked(), lot_.broken() ? nullptr : owner_, lot_.size()};
}

void LockImpl::raise_owner_exited_(const BrokenResourceError& e) {
  // The lot's message ends with the breaker's name, taken when it broke the lot (the owner's
  // record no longer exists). Any other message (the lock was destroyed) passes unchanged.
  const std::string what = e.what();
  const std::string marker = "broken by ";
  const size_t at = what.rfind(marker);
  if (at == std::string::npos) throw e;
  throw BrokenResourceError("Owner of this lock exited without releasing: " +
                            what.substr(at + marker.size()));
}

void LockAcquire::resume_slow_() {
  switch (attempt_) {
    case Attempt::kHeld:
      throw RuntimeError("attempt to re-acquire an already held Lock");
    case Attempt::kWouldBlock:
      try {
        park_awaiter_.await_resume();
      } catch (const BrokenResourceError& e) {
        LockImpl::raise_owner_exited_(e);
      }
      return;
    default:
      break;
  }
  if (b_.resume()) {
    attempt_ = lock_->try_acquire_(b_.task());
    if (attempt_ == Attempt::kHeld)
      throw RuntimeError("attempt to re-acquire an already held Lock");
    if (attempt_ != Attempt::kDone) raise_vanished_cancel("Lock.acquire");
  }
}

}  // namespace detail

// ---- Semaphore ---------------------------------------------------------------------------------

Semaphore::Semaphore(int64_t initial_value, std::optional<int64_t> max_value)
    : value_(initial_value), max_value_(max_value) {
  if (initial_value < 0) throw ValueError("initial value must be >= 0");
  if (max_value && *max_value < initial_value)
    throw ValueError("max_values must be >= initial_value");
}

void Semaphore::acquire_nowait() {
  if (try_acquire_() != detail::Attempt::kDone) throw WouldBlock();
}

void Semaphore::release() {
  if (detail::Waiter* w = waiters_.pop_front()) {
    lowlevel::reschedule(*w->task);  // the unit goes straight to the waiter: value stays 0
    return;
  }
  if (max_value_ && value_ == *max_value_) throw ValueError("semaphore released too many times");
  ++value_;
}

// ---- CapacityLimiter ---------------------------------------------------------------------------

namespace {
void check_total_tokens(int64_t total_tokens) {
  if (total_tokens < 0) throw ValueError("total_tokens must be >= 0");
}
}  // namespace

CapacityLimiter::CapacityLimiter(int64_t total_tokens) : total_tokens_(total_tokens) {
  check_total_tokens(total_tokens);
}

void CapacityLimiter::set_total_tokens(int64_t total_tokens) {
  check_total_tokens(total_tokens);
  total_tokens_ = total_tokens;
  wake_waiters_();
}

int64_t CapacityLimiter::available_tokens() const noexcept {
  if (total_tokens_ == kUnbounded) return kUnbounded;
  return total_tokens_ - static_cast<int64_t>(waiters_.borrowers.size());
}

detail::Attempt CapacityLimiter::try_acquire_(const void* borrower) {
  if (std::find(waiters_.borrowers.begin(), waiters_.borrowers.end(), borrower) !=
      waiters_.borrowers.end())
    return detail::Attempt::kHeld;
  if (available_tokens() > 0 && waiters_.empty()) {
    waiters_.borrowers.push_back(borrower);
    return detail::Attempt::kDone;
  }
  return detail::Attempt::kWouldBlock;
}

namespace {
[[noreturn]] void raise_already_borrowing() {
  throw RuntimeError("this borrower is already holding one of this CapacityLimiter's tokens");
}
}  // namespace

void CapacityLimiter::acquire_nowait() { acquire_on_behalf_of_nowait(&lowlevel::current_task()); }

void CapacityLimiter::acquire_on_behalf_of_nowait(const void* borrower) {
  switch (try_acquire_(borrower)) {
    case detail::Attempt::kDone:
      return;
    case detail::Attempt::kHeld:
      raise_already_borrowing();
    default:
      throw WouldBlock();
  }
}

void CapacityLimiter::release() { release_on_behalf_of(&lowlevel::current_task()); }

void CapacityLimiter::release_on_behalf_of(const void* borrower) {
  auto it = std::find(waiters_.borrowers.begin(), waiters_.borrowers.end(), borrower);
  if (it == waiters_.borrowers.end())
    throw RuntimeError("this borrower isn't holding any of this CapacityLimiter's tokens");
  waiters_.borrowers.erase(it);
  wake_waiters_();
}

void CapacityLimiter::wake_waiters_() {
  while (!waiters_.empty() && available_tokens() > 0) {
    auto* w = static_cast<Waiter*>(waiters_.pop_front());
    waiters_.borrowers.push_back(w->borrower);  // the token goes straight to the waiter
    lowlevel::reschedule(*w->task);
  }
}

CapacityLimiterStatistics CapacityLimiter::statistics() const {
  return {waiters_.borrowers.size(), total_tokens_, waiters_.borrowers, waiters_.size()};
}

namespace detail {
void LimiterAcquire::resume_slow_() {
  if (attempt_ == Attempt::kHeld) raise_already_borrowing();
  if (b_.resume()) {
    attempt_ = limiter_->try_acquire_(node_.borrower);
    if (attempt_ == Attempt::kHeld) raise_already_borrowing();
    if (attempt_ != Attempt::kDone) raise_vanished_cancel("CapacityLimiter.acquire");
  }
}
}  // namespace detail

// ---- Condition ---------------------------------------------------------------------------------

void Condition::check_owner_(const char* message) const {
  // A broken lock's owner has exited: nobody holds it.
  if (lock_->lot_.broken() || lock_->owner_ != &lowlevel::current_task())
    throw RuntimeError(message);
}

Task<> Condition::wait() {
  check_owner_("must hold the lock to wait");
  release();
  std::exception_ptr error;
  try {
    // We sleep on our own lot but wake on the lock's: notify() reparks us there, and the lock's
    // release() hands us ownership, which is all that acquiring takes.
    co_await lot_.park("Condition.wait");
    co_return;
  } catch (...) {
    error = std::current_exception();
  }
  // Re-acquire before raising, shielded from the cancellation, so the caller holds the lock.
  CancelScope shield;
  shield.set_shield(true);
  co_await shield.enter([&]() -> Task<> { co_await lock_->acquire(); });
  std::rethrow_exception(error);
}

void Condition::notify(size_t n) {
  check_owner_("must hold the lock to notify");
  lot_.repark(lock_->lot_, n);
}

void Condition::notify_all() {
  check_owner_("must hold the lock to notify");
  lot_.repark_all(lock_->lot_);
}

ConditionStatistics Condition::statistics() const noexcept {
  return {lot_.size(), lock_->statistics()};
}

}  // namespace trio
