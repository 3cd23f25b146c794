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

// One header per primitive; this one includes them all.
#include "runtime/capacity_limiter.h"  // IWYU pragma: export
#include "runtime/condition.h"         // IWYU pragma: export
#include "runtime/event.h"             // IWYU pragma: export
#include "runtime/lock.h"              // IWYU pragma: export
#include "runtime/semaphore.h"         // IWYU pragma: export
#include "runtime/sync_common.h"       // IWYU pragma: export

#endif  // TRIO_RUNTIME_SYNC_H_
