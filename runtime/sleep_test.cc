// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// sleep() woken by its deadline decides at resume time whether to raise, as Trio's sleep (a
// scope around sleep_forever) does: if an outer cancellation became visible meanwhile — even one
// expiring at the same instant, or caused by a sibling in the same batch — it raises Cancelled.
// Checked under every scheduling policy and many seeds, because deadline ties and batch order
// are choice points.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;

namespace {

const trio::SchedulingPolicy kPolicies[] = {
    trio::SchedulingPolicy::kCoinFlip, trio::SchedulingPolicy::kShuffle,
    trio::SchedulingPolicy::kFifo, trio::SchedulingPolicy::kLifo};

template <class F>
void for_each_run(F f) {
  for (trio::SchedulingPolicy policy : kPolicies) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      SCOPED_TRACE("policy " + std::to_string(static_cast<int>(policy)) + " seed " +
                   std::to_string(seed));
      trio::MockClock clock;
      clock.set_autojump_threshold(0s);
      f(trio::RunOptions{.clock = &clock, .seed = seed, .scheduling = policy});
    }
  }
}

TEST(Sleep, ExpiringAtTheSameInstantAsAnOuterScopeRaisesCancelled) {
  for_each_run([](trio::RunOptions options) {
    bool slept = false;
    bool caught = false;
    trio::run(options, [&]() -> trio::Task<> {
      trio::CancelScope scope(trio::current_time() + 1s);
      co_await scope.enter([&]() -> trio::Task<> {
        co_await trio::sleep(1s);  // same deadline as the scope
        slept = true;
      });
      caught = scope.cancelled_caught();
    });
    EXPECT_FALSE(slept);
    EXPECT_TRUE(caught);
  });
}

TEST(Sleep, SiblingsWakingTogetherThenRaisingGiveOneError) {
  for_each_run([](trio::RunOptions options) {
    size_t errors = 0;
    trio::run(options, [&]() -> trio::Task<> {
      try {
        co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
          for (int i = 0; i < 2; ++i)
            n.start_soon([]() -> trio::Task<> {
              co_await trio::sleep(1s);
              throw std::runtime_error("failed");
            });
          co_return;
        });
      } catch (const trio::ExceptionGroup& g) {
        errors = g.size();
      }
    });
    EXPECT_EQ(errors, 1u);  // the second sleeper saw the nursery cancelled when it resumed
  });
}

TEST(Sleep, WokenByItsDeadlineWithoutOuterCancellationReturns) {
  for_each_run([](trio::RunOptions options) {
    bool slept = false;
    trio::run(options, [&]() -> trio::Task<> {
      co_await trio::move_on_after(2s, [&]() -> trio::Task<> {
        co_await trio::sleep(1s);
        slept = true;
      });
    });
    EXPECT_TRUE(slept);
  });
}

}  // namespace
