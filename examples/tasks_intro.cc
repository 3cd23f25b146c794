// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// ./bazelw run //examples:tasks_intro — Trio's tutorial program tasks-intro.py: a parent runs
// child1 and child2 concurrently in a nursery. The whole program takes 1 second, not 2: the
// children sleep at the same time. See tasks_intro_lib.h for the output.
#include <functional>
#include <iostream>

#include "examples/tasks_intro_lib.h"
#include "runtime/trio.h"

int main() {
  std::cout << std::unitbuf;  // show each line as it is printed, before the 1 second passes
  // [START run_parent]
  trio::run(examples::parent, std::ref(std::cout));
  // [END run_parent]
  return 0;
}
