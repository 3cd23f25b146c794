// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "examples/tasks_intro_lib.h"

#include <chrono>
#include <functional>

using namespace std::chrono_literals;

namespace examples {

// [START children]
trio::Task<> child1(std::ostream& out) {
  out << "  child1: started! sleeping now...\n";
  co_await trio::sleep(1s);
  out << "  child1: exiting!\n";
}

trio::Task<> child2(std::ostream& out) {
  out << "  child2: started! sleeping now...\n";
  co_await trio::sleep(1s);
  out << "  child2: exiting!\n";
}
// [END children]

// [START parent]
trio::Task<> parent(std::ostream& out) {
  out << "parent: started!\n";
  co_await trio::open_nursery([&](trio::Nursery& nursery) -> trio::Task<> {
    out << "parent: spawning child1...\n";
    nursery.start_soon(trio::TaskName("child1"), child1, std::ref(out));

    out << "parent: spawning child2...\n";
    nursery.start_soon(trio::TaskName("child2"), child2, std::ref(out));

    out << "parent: waiting for children to finish...\n";
    co_return;  // -- we exit the nursery block here --
  });
  out << "parent: all done!\n";
}
// [END parent]

}  // namespace examples
