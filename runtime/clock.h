// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The clock seam (Trio's `trio.abc.Clock`): every read of time in a run goes through the run's
// `Clock`. Production uses `SystemClock`; tests use `trio::MockClock` (simclock/), whose time
// is virtual. Nothing else in trio-cpp reads the OS clock for run time.
//
// The runner calls, on the run's thread only:
//   start_clock()                once, after `before_run` instruments;
//   current_time()               for current_time(), deadlines and expiry;
//   deadline_to_sleep_time(d)    the *real* time to wait for deadline `d` (may be kInfDuration);
//                                the loop clamps it to [0, 24 h];
//   autojump_threshold()         real time the loop may sit idle before `autojump` (kInfDuration
//                                = never; MockClock's `autojump_threshold`);
//   autojump(next_deadline)      jump to `next_deadline` (called only when every task is blocked,
//                                no I/O arrived, no deadline just expired, and nobody is in
//                                wait_all_tasks_blocked — Trio's §2.10 rules).
#ifndef TRIO_RUNTIME_CLOCK_H_
#define TRIO_RUNTIME_CLOCK_H_

#include <cstdint>

#include "runtime/time.h"

namespace trio {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual void start_clock() {}
  virtual TimePoint current_time() = 0;
  virtual Duration deadline_to_sleep_time(TimePoint deadline) = 0;
  virtual Duration autojump_threshold() const { return kInfDuration; }
  virtual void autojump(TimePoint next_deadline) { (void)next_deadline; }
};

// The OS monotonic clock plus a random offset in [10000 s, 200000 s), drawn from the run's
// random source, so that code which mixes run time with another clock fails visibly (as Trio).
class SystemClock final : public Clock {
 public:
  // `offset_seed` picks the offset; the runner passes a value from the run's PRNG.
  explicit SystemClock(uint64_t offset_seed = 0);
  TimePoint current_time() override;
  Duration deadline_to_sleep_time(TimePoint deadline) override;
  Duration offset() const { return offset_; }

 private:
  Duration offset_;
};

}  // namespace trio

#endif  // TRIO_RUNTIME_CLOCK_H_
