// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Trio's tutorial program tasks-intro.py: a parent task runs two children concurrently in a
// nursery and waits for both.
//
//   trio::run(examples::parent, std::ref(std::cout));
//
// prints (the children's "started" lines, and their "exiting" lines, may come in either order:
// the scheduler randomizes the order of tasks that become runnable at the same moment, as Trio's
// does):
//
//   parent: started!
//   parent: spawning child1...
//   parent: spawning child2...
//   parent: waiting for children to finish...
//     child2: started! sleeping now...
//     child1: started! sleeping now...
//       [... 1 second passes ...]
//     child1: exiting!
//     child2: exiting!
//   parent: all done!
//
// The children are spawned with the names "child1" and "child2" (what an instrument sees, see
// tracer_lib.h). Trio names a task after its function, qualified by its Python module
// ("__main__.child1"); in C++ the function name alone is the natural equivalent. The main task
// keeps trio-cpp's fixed name "main" (Trio's would be "__main__.parent").
#ifndef TRIO_EXAMPLES_TASKS_INTRO_LIB_H_
#define TRIO_EXAMPLES_TASKS_INTRO_LIB_H_

#include <ostream>

#include "runtime/trio.h"

namespace examples {

// Each prints "  childN: started! sleeping now...", sleeps 1 second, then prints
// "  childN: exiting!". A checkpoint.
trio::Task<> child1(std::ostream& out);
trio::Task<> child2(std::ostream& out);

// Spawns child1 and child2 into a nursery and waits for both; prints the parent's lines above.
// Takes 1 second on the run's clock. A checkpoint.
trio::Task<> parent(std::ostream& out);

}  // namespace examples

#endif  // TRIO_EXAMPLES_TASKS_INTRO_LIB_H_
