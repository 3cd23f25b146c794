// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Timeouts and cancellation, as docs/tutorial.md presents them: fail_after and move_on_after,
// what trio::Cancelled is and why a catch-all must rethrow it, and how a child that raises
// cancels its siblings. Each function prints what happens on `out`; on a MockClock every line is
// deterministic (cancellation_test.cc checks them).
//
//   trio::run(examples::fetch_with_timeout, std::ref(std::cout));
#ifndef TRIO_EXAMPLES_CANCELLATION_LIB_H_
#define TRIO_EXAMPLES_CANCELLATION_LIB_H_

#include <ostream>

#include "runtime/trio.h"

namespace examples {

// Stands for a slow network call: sleeps `seconds`, then returns a greeting. A checkpoint.
trio::Task<std::string> slow_fetch(int seconds);

// fail_after(1 s) around a 5-second slow_fetch: catches trio::TooSlowError and prints
//   fetching...
//   gave up after 1.00 seconds: operation timed out
trio::Task<> fetch_with_timeout(std::ostream& out);

// move_on_after, in both forms: a Task<> body (returns whether it was cut short) and a Task<T>
// body (returns std::optional<T>, empty if cut short). Prints
//   moved on: true
//   no greeting after 1 second
//   got: hello after 1s
trio::Task<> move_on_examples(std::ostream& out);

// A timeout around a whole nursery: tasks_intro's parent under move_on_after(500 ms). Both
// children are cancelled in their sleep; the parent's nursery raises their Cancelleds, which the
// timeout's scope catches. Prints the parent's first four lines, both "started" lines (in either
// order), then
//   timed out: the children were cancelled
trio::Task<> parent_with_timeout(std::ostream& out);

// A worker that cleans up on cancellation: catches Cancelled, prints, rethrows. Run under
// move_on_after(1 s) it prints
//   worker: working...
//   worker: cancelled due to deadline; cleaning up
//   main: moved on after 1.00 seconds
trio::Task<> careful_worker(std::ostream& out);
trio::Task<> run_careful_worker(std::ostream& out);

// The bug a catch-all that swallows Cancelled causes: the worker goes on after its scope was
// cancelled, until the next checkpoint raises Cancelled again. Prints
//   swallower: caught something; carrying on
//   swallower: still running at 1.00 seconds, after the deadline!
//   main: moved on
trio::Task<> run_swallowing_worker(std::ostream& out);

// The right catch-all: catch (const trio::Cancelled&) { throw; } before catch (...). A worker
// that retries a failing operation every 400 ms, run under move_on_after(1 s), prints
//   retrier: attempt 1 failed; retrying
//   retrier: attempt 2 failed; retrying
//   main: moved on after 1.00 seconds
trio::Task<> run_retrying_worker(std::ostream& out);

// A child that raises cancels its siblings; the nursery re-raises the error in an
// ExceptionGroup. Prints
//   crasher: raising
//   sleeper: cancelled due to nursery...   (the full text of the Cancelled)
//   main: caught Exceptions from Trio nursery (1 sub-exception)
trio::Task<> crash_cancels_siblings(std::ostream& out);

}  // namespace examples

#endif  // TRIO_EXAMPLES_CANCELLATION_LIB_H_
