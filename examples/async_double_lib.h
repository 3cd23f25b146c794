// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The tutorial's first example: a regular function next to an async one (Trio's tutorial,
// "Async functions").
//
//   int six = examples::regular_double(3);                // a plain call
//   int also_six = trio::run(examples::async_double, 3);  // the "how": trio::run calls it
//   co_await examples::print_double(std::cout, 3);        // async code calls it with co_await
//
// An async function is a function that returns `trio::Task<T>` and uses `co_await` / `co_return`.
// It can only be called from another async function (with `co_await`) or by `trio::run`.
#ifndef TRIO_EXAMPLES_ASYNC_DOUBLE_LIB_H_
#define TRIO_EXAMPLES_ASYNC_DOUBLE_LIB_H_

#include <ostream>

#include "runtime/trio.h"

namespace examples {

// A regular (synchronous) function: 2 * x.
int regular_double(int x);

// The same as an async function. Not a checkpoint: it never suspends.
trio::Task<int> async_double(int x);

// Prints `async_double(x)` and a newline on `out` (the tutorial's print_double). Not a
// checkpoint.
trio::Task<> print_double(std::ostream& out, int x);

}  // namespace examples

#endif  // TRIO_EXAMPLES_ASYNC_DOUBLE_LIB_H_
