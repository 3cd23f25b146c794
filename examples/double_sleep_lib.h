// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The async sandwich (Trio's tutorial, "Async functions"): our code in the middle, trio on both
// sides.
//
//   trio::run -> double_sleep -> trio::sleep
//
// `double_sleep(x)` is the typical async function: it has to be async because it calls another
// async function. `rested_double_sleep` is the tutorial's `broken_double_sleep` with the
// `co_await` it forgot put back (examples/forgotten_await.cc shows the forgotten version, which
// does not compile).
#ifndef TRIO_EXAMPLES_DOUBLE_SLEEP_LIB_H_
#define TRIO_EXAMPLES_DOUBLE_SLEEP_LIB_H_

#include <ostream>

#include "runtime/trio.h"

namespace examples {

// Sleeps 2 * x seconds on the run's clock. A checkpoint (it is trio::sleep).
trio::Task<> double_sleep(int x);

// Prints "*yawn* Going to sleep", sleeps 2 * x seconds with double_sleep, then prints how long it
// slept as measured on the run's clock ("Woke up after 6.00 seconds, feeling well rested!" for
// x = 3). A checkpoint.
trio::Task<> rested_double_sleep(std::ostream& out, int x);

}  // namespace examples

#endif  // TRIO_EXAMPLES_DOUBLE_SLEEP_LIB_H_
