// SPDX-License-Identifier: Apache-2.0 OR MIT
// The main demo's claims, checked: a seed sweep and cancellation exploration both find the job
// pool's lost-job bug, and the fixed pool survives 500 seeds and a cancellation at every cancel
// point.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>

#include "examples/demo_job_pool.h"
#include "testing/cancel_explore.h"
#include "testing/sweep.h"

namespace {

using ::testing::HasSubstr;
using trio::testing::SweepProgress;

trio::testing::Scenario pool(bool fixed) {
  return [fixed] { return examples::job_pool_scenario({.fixed = fixed}); };
}

TEST(JobPoolDemo, SweepFindsTheLostJob) {
  auto report = trio::testing::sweep(
      pool(false), {.seeds = 500, .progress = SweepProgress::kQuiet, .use_environment = false});
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.failures.front().what, HasSubstr("jobs lost or duplicated"));
  EXPECT_THAT(report.failures.front().trace, HasSubstr("cancelled (explicit) reason 'shutdown'"));
}

TEST(JobPoolDemo, OnlySomeSeedsLoseAJob) {
  // The bug needs a shutdown at the very instant a job finishes, with the worker running first.
  auto report = trio::testing::sweep(pool(false), {.seeds = 500,
                                                   .stop_at_first_failure = false,
                                                   .progress = SweepProgress::kQuiet,
                                                   .use_environment = false});
  EXPECT_GT(report.failing_seeds, 0u);
  EXPECT_LT(report.failing_seeds, 100u);
  std::cerr << report.failing_seeds << " of 500 seeds lose a job\n";
}

TEST(JobPoolDemo, CancellationExplorationFindsTheLostJob) {
  ASSERT_EQ(trio::testing::run_seed(pool(false), 0).error, "") << "seed 0 passes without injection";
  auto report = trio::testing::explore_cancellation(pool(false), nullptr, {.seed = 0});
  ASSERT_EQ(report.baseline_failure, "");
  ASSERT_FALSE(report.ok()) << report.to_string();
  EXPECT_THAT(report.failures.front().what, HasSubstr("jobs lost or duplicated"));
}

TEST(JobPoolDemo, FixedPoolSurvives500Seeds) {
  auto report = trio::testing::sweep(
      pool(true), {.seeds = 500, .progress = SweepProgress::kQuiet, .use_environment = false});
  EXPECT_TRUE(report.ok()) << report.to_string();
  EXPECT_EQ(report.seeds_run, 500u);
}

TEST(JobPoolDemo, FixedPoolSurvivesACancellationAtEveryPoint) {
  for (uint64_t seed = 0; seed < 3; ++seed) {
    auto report = trio::testing::explore_cancellation(pool(true), nullptr, {.seed = seed});
    EXPECT_TRUE(report.ok()) << report.to_string();
    EXPECT_GT(report.runs, 10u);
  }
}

}  // namespace
