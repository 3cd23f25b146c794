// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Test-only helpers shared by the runtime's primitive tests: run a body on an autojump
// MockClock and check that no frame leaked; assert whether a statement is a checkpoint (using
// the running task's cancel-point and schedule-point counters).
#ifndef TRIO_RUNTIME_TESTING_SIM_TEST_SUPPORT_H_
#define TRIO_RUNTIME_TESTING_SIM_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <utility>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

namespace sim_test {

// Runs `fn` in a fresh run on MockClock(autojump threshold 0) and returns its result; expects
// no leaked frames afterwards, also when the run raises.
template <class F>
auto sim_run(F fn, uint64_t seed = 17,
             trio::SchedulingPolicy policy = trio::SchedulingPolicy::kCoinFlip) {
  trio::MockClock clock;
  clock.set_autojump_threshold(std::chrono::seconds(0));
  struct LeakCheck {
    ~LeakCheck() { EXPECT_EQ(trio::lowlevel::live_frames(), 0); }
  } leak_check;
  return trio::run(trio::RunOptions{.clock = &clock, .seed = seed, .scheduling = policy},
                   std::move(fn));
}
template <class F>
auto sim_run(F fn, trio::SchedulingPolicy policy) {
  return sim_run(std::move(fn), 17, policy);
}

// The current task's checkpoint counters.
struct Points {
  uint32_t cancel;
  uint32_t schedule;
};
inline Points points() {
  const auto& t = trio::lowlevel::current_task();
  return {t.cancel_points, t.schedule_points};
}

}  // namespace sim_test

// The statement is a checkpoint: both counters of the current task move.
#define EXPECT_CHECKPOINT(...)                               \
  do {                                                       \
    const ::sim_test::Points before_ = ::sim_test::points(); \
    __VA_ARGS__;                                             \
    const ::sim_test::Points after_ = ::sim_test::points();  \
    EXPECT_NE(after_.cancel, before_.cancel);                \
    EXPECT_NE(after_.schedule, before_.schedule);            \
  } while (0)
// The statement is not a checkpoint: neither counter moves.
#define EXPECT_NO_CHECKPOINT(...)                            \
  do {                                                       \
    const ::sim_test::Points before_ = ::sim_test::points(); \
    __VA_ARGS__;                                             \
    const ::sim_test::Points after_ = ::sim_test::points();  \
    EXPECT_EQ(after_.cancel, before_.cancel);                \
    EXPECT_EQ(after_.schedule, before_.schedule);            \
  } while (0)

#endif  // TRIO_RUNTIME_TESTING_SIM_TEST_SUPPORT_H_
