// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// A forgotten `co_await` does not compile (Trio's tutorial, "Warning: don't forget that await!").
//
// In Python the tutorial's broken_double_sleep runs, sleeps 0 seconds instead of 6, and at best
// prints "RuntimeWarning: coroutine 'sleep' was never awaited". In trio-cpp every async function
// returns a [[nodiscard]] trio::Task, and trio::sleep, trio::checkpoint & co. return [[nodiscard]]
// awaiters, so dropping the `co_await` discards a value that must not be discarded; under
// -Werror that is a compile error.
//
// //examples:forgotten_await_test compiles this file three times:
//   -DFORGET_AWAIT_ON_SLEEP   must fail, only with the nodiscard error on the marked line
//   -DFORGET_AWAIT_ON_TASK    likewise, for a forgotten co_await on our own async function
//   neither                   must compile: the fixed program (the positive control)
// It is not linked into anything; the lines marked FORGOTTEN are what the test looks for.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "examples/double_sleep_lib.h"
#include "runtime/trio.h"

namespace examples {

// [START broken_double_sleep]
trio::Task<> broken_double_sleep(int x) {
  std::cout << "*yawn* Going to sleep\n";
  const trio::TimePoint start_time = trio::current_time();

#ifdef FORGET_AWAIT_ON_SLEEP
  // Whoops, we forgot the 'co_await'!
  trio::sleep(std::chrono::seconds(2 * x));  // FORGOTTEN: sleep
#else
  co_await trio::sleep(std::chrono::seconds(2 * x));
#endif

  const double sleep_time = trio::to_seconds(trio::current_time() - start_time);
  std::printf("Woke up after %.2f seconds, feeling well rested!\n", sleep_time);
  co_return;  // keeps this a coroutine even when its only co_await is forgotten
}
// [END broken_double_sleep]

trio::Task<> twice_double_sleep(int x) {
#ifdef FORGET_AWAIT_ON_TASK
  double_sleep(x);  // FORGOTTEN: task
#else
  co_await double_sleep(x);
#endif
  co_await double_sleep(x);
}

}  // namespace examples
