// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "examples/async_double_lib.h"

namespace examples {

// [START async_double]
// A regular function
int regular_double(int x) { return 2 * x; }

// An async function
trio::Task<int> async_double(int x) { co_return 2 * x; }
// [END async_double]

// [START print_double]
trio::Task<> print_double(std::ostream& out, int x) {
  out << co_await async_double(x) << "\n";  // OK: co_await inside an async function
}
// [END print_double]

}  // namespace examples
