// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Internal: the task-tree dump of hang reports. Runner::task_tree() (declared in runner.h,
// defined in task_dump.cc) lists every task, what it waits on, its cancel scopes and nurseries,
// then the wait cycles (hang_report.h's WaitGraph).
#ifndef TRIO_RUNTIME_INTERNAL_TASK_DUMP_H_
#define TRIO_RUNTIME_INTERNAL_TASK_DUMP_H_

#include <cstdint>
#include <string>

namespace trio::internal {

// Exact seconds with 6 decimals ("5.000000s", "-0.250000s"): integer arithmetic, so a report's
// text is the same on every compiler (the testing layer hashes it into traces).
std::string seconds_text(int64_t ns);

}  // namespace trio::internal

#endif  // TRIO_RUNTIME_INTERNAL_TASK_DUMP_H_
