// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// ./bazelw run //examples:double_sleep — the async sandwich
//   trio::run -> rested_double_sleep -> double_sleep -> trio::sleep
// with x = 3, as in Trio's tutorial: it takes 6 seconds of real time. Prints:
//   *yawn* Going to sleep
//   Woke up after 6.00 seconds, feeling well rested!
#include <functional>
#include <iostream>

#include "examples/double_sleep_lib.h"
#include "runtime/trio.h"

int main() {
  std::cout << std::unitbuf;  // show the first line before the 6 seconds of sleep
  trio::run(examples::rested_double_sleep, std::ref(std::cout), 3);
  return 0;
}
