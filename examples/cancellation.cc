// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// ./bazelw run //examples:cancellation — timeouts and cancellation (docs/tutorial.md): fail_after,
// move_on_after, a timeout around a nursery, workers that handle Cancelled well and badly, and a
// crashing child that cancels its sibling. Runs on the real clock: about 8.5 seconds.
// See cancellation_lib.h for what each part prints.
#include <functional>
#include <iostream>

#include "examples/cancellation_lib.h"
#include "runtime/trio.h"

int main() {
  std::cout << std::unitbuf;
  using Demo = trio::Task<> (*)(std::ostream&);
  const Demo demos[] = {
      examples::fetch_with_timeout,     examples::move_on_examples,
      examples::parent_with_timeout,    examples::run_careful_worker,
      examples::run_swallowing_worker,  examples::run_retrying_worker,
      examples::crash_cancels_siblings,
  };
  for (Demo demo : demos) {
    trio::run(demo, std::ref(std::cout));
    std::cout << "\n";
  }
  return 0;
}
