// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/checkpoints.h"

namespace trio::testing::internal {

void report_checkpoint_failure(const char* file, int line, const char* message,
                               CheckpointCounts before, CheckpointCounts after) {
  // The counters wrap after 2^32; the difference modulo 2^32 is what moved.
  ADD_FAILURE_AT(file, line) << message << " (cancel points: +"
                             << static_cast<uint32_t>(after.cancel_points - before.cancel_points)
                             << ", schedule points: +"
                             << static_cast<uint32_t>(after.schedule_points -
                                                      before.schedule_points)
                             << ")";
}

}  // namespace trio::testing::internal
