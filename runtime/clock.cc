// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/clock.h"

#include <time.h>

namespace trio {

namespace {
constexpr int64_t kOffsetMinNs = 10000LL * 1000000000LL;
constexpr int64_t kOffsetSpanNs = (200000LL - 10000LL) * 1000000000LL;

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}
}  // namespace

SystemClock::SystemClock(uint64_t offset_seed)
    : offset_(Duration(kOffsetMinNs + static_cast<int64_t>(offset_seed % kOffsetSpanNs))) {}

TimePoint SystemClock::current_time() { return TimePoint(Duration(monotonic_ns()) + offset_); }

Duration SystemClock::deadline_to_sleep_time(TimePoint deadline) {
  return saturating_sub(deadline, current_time());
}

}  // namespace trio
