// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Two planted bugs shared by the schedule-exploration tests (property_test.cc, pct_test.cc):
// each a tiny scenario with a `fixed` switch that fails only under some schedules.
#ifndef TRIO_TESTING_PLANTED_BUGS_H_
#define TRIO_TESTING_PLANTED_BUGS_H_

#include "runtime/task.h"

namespace trio::testing::planted {

// Check-then-act across a checkpoint: two workers can both enter the critical section (a
// PropertyViolation). Fixed: the flag is set before the checkpoint.
Task<> check_then_act(bool fixed);
// A lost wake-up: the producer publishes between the consumer's check and its park, and the run
// deadlocks (trio::DeadlockError). Fixed: no checkpoint between the check and the park.
Task<> lost_wakeup(bool fixed);

}  // namespace trio::testing::planted

#endif  // TRIO_TESTING_PLANTED_BUGS_H_
