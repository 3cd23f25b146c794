// SPDX-License-Identifier: Apache-2.0 OR MIT
// The subject of replay_e2e_test.sh (a binary, not a test: every test fails). Each test runs one
// of the harness's searches on a planted bug — a sweep with timer perturbation, a PCT sweep, a
// sweep with cancellation exploration, check_property, explore_cancellation — and fails with
// its report, whose "reproduce with:" line the script runs. Its main() is gtest's: TRIO_REPLAY
// is read by the library, not by main().
#include <gtest/gtest.h>

#include <deque>
#include <stdexcept>
#include <string>

#include "runtime/sync.h"
#include "runtime/trio.h"
#include "testing/cancel_explore.h"
#include "testing/planted_bugs.h"
#include "testing/property.h"
#include "testing/sweep.h"

namespace {

using namespace std::chrono_literals;
using trio::testing::Schedule;
using trio::testing::planted::check_then_act;

// The client trusts its timeout flag; the server answers 10 ms before the timeout.
trio::Task<> near_miss_timeout() {
  trio::Event replied;
  bool gave_up = false;
  bool charged = false;
  bool succeeded = false;
  co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
    n.start_soon([&]() -> trio::Task<> {
      co_await trio::sleep(990ms);
      if (gave_up) co_return;
      charged = true;
      replied.set();
    });
    succeeded =
        !co_await trio::move_on_after(1s, [&]() -> trio::Task<> { co_await replied.wait(); });
    gave_up = !succeeded;
  });
  if (charged != succeeded) throw std::logic_error("charged for a request reported as failed");
}

// A forwarder that loses the item it holds when cancelled at its checkpoint.
struct Pipeline {
  std::deque<int> queue;
  std::deque<int> out;
};
Pipeline pipeline;

trio::Task<> forward() {
  pipeline = Pipeline{{1, 2, 3}, {}};
  co_await trio::move_on_after(1h, [&]() -> trio::Task<> {
    while (!pipeline.queue.empty()) {
      const int item = pipeline.queue.front();
      pipeline.queue.pop_front();
      co_await trio::checkpoint();
      pipeline.out.push_back(item);
    }
  });
}

std::string nothing_lost() {
  return pipeline.queue.size() + pipeline.out.size() == 3 ? "" : "an item was lost";
}

// [START sweep_options]
TEST(Replay, SweepWithTimerPerturbation) {
  const auto report = trio::testing::sweep(near_miss_timeout, {.timer_perturbation = 20ms});
  EXPECT_TRUE(report.ok()) << report.to_string();
}

TEST(Replay, PctSweep) {
  const auto report =
      trio::testing::sweep([] { return check_then_act(false); }, {.schedule = Schedule::kPct});
  EXPECT_TRUE(report.ok()) << report.to_string();
}

TEST(Replay, SweepWithCancellation) {
  const auto report = trio::testing::sweep(
      forward, {.first_seed = 3, .cancellation = {.enabled = true}, .invariants = nothing_lost});
  EXPECT_TRUE(report.ok()) << report.to_string();
}
// [END sweep_options]

TEST(Replay, Property) {
  const auto result = trio::testing::check_property([] { return check_then_act(false); },
                                                    {.explore = {.schedule = Schedule::kPct}});
  EXPECT_TRUE(result.passed) << result.report;
}

TEST(Replay, CancellationExploration) {
  const auto report = trio::testing::explore_cancellation(forward, nothing_lost, {.seed = 5});
  EXPECT_TRUE(report.ok()) << report.to_string();
}

}  // namespace
