// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// ./bazelw run //examples:async_double — a regular function and an async function side by side:
// the async one is called through trio::run, the runner that bridges sync and async code.
// Prints:
//   regular_double(3) returns 6
//   trio::run(async_double, 3) returns 6
//   print_double(3) prints 6
#include <functional>
#include <iostream>

#include "examples/async_double_lib.h"
#include "runtime/trio.h"

int main() {
  std::cout << "regular_double(3) returns " << examples::regular_double(3) << "\n";
  // [START run_async_double]
  int result = trio::run(examples::async_double, 3);  // returns 6
  // [END run_async_double]
  std::cout << "trio::run(async_double, 3) returns " << result << "\n";
  std::cout << "print_double(3) prints " << std::flush;
  trio::run(examples::print_double, std::ref(std::cout), 3);
  return 0;
}
