// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// An ExceptionGroup printed and walked through, as docs/tutorial.md presents it. Two children
// of one nursery fail at the same moment; the nursery raises both in a trio::ExceptionGroup.
// `start_services` prints the group's tree, walks its members, handles the ValueErrors with
// split<trio::ValueError>() and rethrows the rest, which `exception_group_example` catches.
//
//   trio::run(examples::exception_group_example, std::ref(std::cout));
//
// prints (the two members arrive in either order: both children fail in the same scheduler
// batch, which the scheduler orders at random; this is the order with SchedulingPolicy::kFifo):
//
//   Exceptions from Trio nursery (2 sub-exceptions)
//   +-- [task config] bad config: port must be a number
//   +-- [task database] database unreachable
//   task config raised: bad config: port must be a number
//   task database raised: database unreachable
//   handled: Exceptions from Trio nursery (1 sub-exception)
//   main: still failing: Exceptions from Trio nursery (1 sub-exception)
//   +-- [task database] database unreachable
#ifndef TRIO_EXAMPLES_EXCEPTION_GROUP_LIB_H_
#define TRIO_EXAMPLES_EXCEPTION_GROUP_LIB_H_

#include <ostream>

#include "runtime/trio.h"

namespace examples {

// After 1 second: throw trio::ValueError("bad config: port must be a number").
trio::Task<> load_config();
// After 1 second: throw std::runtime_error("database unreachable").
trio::Task<> connect_to_database();

// Runs both as tasks "config" and "database"; prints and walks the group; rethrows what is not
// a ValueError (an ExceptionGroup holding the runtime_error).
trio::Task<> start_services(std::ostream& out);

// Calls start_services and prints the rest it rethrows.
trio::Task<> exception_group_example(std::ostream& out);

}  // namespace examples

#endif  // TRIO_EXAMPLES_EXCEPTION_GROUP_LIB_H_
