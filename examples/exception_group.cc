// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// ./bazelw run //examples:exception_group — two children fail at the same moment; the nursery
// raises both in an ExceptionGroup, which is printed, walked and split (docs/tutorial.md).
// Takes 1 second. See exception_group_lib.h for the output.
#include <functional>
#include <iostream>

#include "examples/exception_group_lib.h"
#include "runtime/trio.h"

int main() {
  trio::run(examples::exception_group_example, std::ref(std::cout));
  return 0;
}
