// SPDX-License-Identifier: Apache-2.0 OR MIT
// The bug zoo's acceptance test: the harness finds each of the seven planted bugs of
// testing/bug_zoo.h in its buggy variant — a seed sweep within 1,000 seeds, check_property under
// PCT within 1,000 cases, and, for the two cancellation bugs, explore_cancellation at its first
// failing cancel point — and every report carries its repro (seed and repro line, shrunk choice
// string and replay line, cancel point and run_with_cancellation call) and a readable trace;
// the shrunk schedule is no longer than the first failing one and replays to the same failure,
// event for event. Deadlocks come as a DeadlockError with the task tree, livelocks as the
// virtual-time budget's no-progress report. The correct variants pass the same searches (their
// 10,000-seed sweeps are in bug_zoo_clean_test.cc).
#include "testing/bug_zoo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "testing/cancel_explore.h"
#include "testing/property.h"
#include "testing/sweep.h"

namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Matcher;
using trio::testing::CancelExploreReport;
using trio::testing::ExploreOptions;
using trio::testing::PropertyResult;
using trio::testing::Schedule;
using trio::testing::SweepFailure;
using trio::testing::SweepOptions;
using trio::testing::SweepReport;
using trio::testing::bug_zoo::Specimen;
using trio::testing::bug_zoo::specimen;
using trio::testing::bug_zoo::Variant;

constexpr uint64_t kSeeds = 1000;
constexpr int kCases = 1000;

SweepOptions sweep_options(const Specimen& s) {
  return {.seeds = kSeeds, .max_virtual_time = s.budget};
}

ExploreOptions pct(const Specimen& s) {
  return {.schedule = Schedule::kPct, .max_virtual_time = s.budget};
}

// Sweeps seeds 0..999 of the buggy variant (coin flips) and checks the report of the first
// failing seed: what it raised matches `symptom`, the repro line, the trace; and that the seed
// fails the same way on its own. Returns the failure (what = "" if none was found).
SweepFailure expect_sweep_finds(const Specimen& s, const Matcher<const std::string&>& symptom) {
  const SweepReport report = trio::testing::sweep(s.of(Variant::kBuggy), sweep_options(s));
  EXPECT_FALSE(report.ok()) << "no failing seed in " << kSeeds;
  if (report.failures.empty()) return {};
  const SweepFailure& f = report.failures.front();
  if (std::getenv("TRIO_SWEEP_SEED") == nullptr &&
      std::getenv("TRIO_REPLAY") == nullptr) {  // not reproducing one seed
    EXPECT_EQ(report.seeds_run, f.seed + 1) << "stops at the first failing seed";
  }
  EXPECT_THAT(f.what, symptom);
  EXPECT_THAT(f.repro, HasSubstr("TRIO_REPLAY=seed=" + std::to_string(f.seed)));
  EXPECT_THAT(f.trace, HasSubstr("run raised"));  // the trace of that run, to its end
  const std::string text = report.to_string();
  EXPECT_THAT(text, HasSubstr("first failing seed " + std::to_string(f.seed)));
  EXPECT_THAT(text, HasSubstr("reproduce with: " + f.repro));
  EXPECT_THAT(text, HasSubstr("trace of seed " + std::to_string(f.seed) + ":\n"));
  EXPECT_EQ(trio::testing::run_seed(s.of(Variant::kBuggy), f.seed, sweep_options(s)), f.what)
      << "the failing seed fails again, the same way";
  std::cout << "[zoo] " << s.name << ": sweep (coin flips) fails first at seed " << f.seed << " ("
            << report.seeds_run << " seed(s) run)\n";
  return f;
}

// check_property under PCT (up to 1,000 cases) on the buggy variant: found, shrunk to a choice
// string no longer (and with no more non-simplest choices) than the first failing case's, the
// report names the error, the choice string, the replay call and the trace, and replaying the
// string fails the same way with the same trace hash.
PropertyResult expect_property_finds_and_shrinks(const Specimen& s,
                                                 const Matcher<const std::string&>& symptom) {
  const auto scenario = s.of(Variant::kBuggy);
  const PropertyResult r =
      trio::testing::check_property(scenario, {.explore = pct(s), .max_cases = kCases});
  EXPECT_FALSE(r.passed) << "no failing case in " << kCases;
  if (r.passed) return r;
  EXPECT_LE(r.cases, kCases);
  EXPECT_THAT(r.shrunk.error, symptom);
  const std::string first = trio::testing::format_choices(r.first_choices);
  const std::string shrunk = r.shrunk.choice_string();
  EXPECT_LE(shrunk.size(), first.size()) << "\"" << shrunk << "\" vs \"" << first << "\"";
  EXPECT_LE(trio::testing::count_nonzero(r.shrunk.choices),
            trio::testing::count_nonzero(r.first_choices));
  EXPECT_THAT(r.report, HasSubstr("error: " + r.shrunk.error));
  EXPECT_THAT(r.report, HasSubstr("choices: \"" + shrunk + "\""));
  EXPECT_THAT(r.report, HasSubstr("replay: trio::testing::replay_choices(scenario, \"" + shrunk));
  EXPECT_THAT(r.report, HasSubstr("shrunk trace (its end):\n"));
  // The trace ends with the outcome, and the report shows that end.
  if (!r.shrunk.trace.empty()) {
    EXPECT_THAT(r.shrunk.trace.back().detail,
                HasSubstr("run raised " + r.shrunk.error.substr(0, 40)));
    EXPECT_THAT(r.report, HasSubstr(trio::testing::format_event(r.shrunk.trace.back())));
  }
  const auto again = trio::testing::replay_choices(scenario, shrunk, pct(s));
  EXPECT_EQ(again.error, r.shrunk.error) << "the shrunk choice string replays the failure";
  EXPECT_EQ(again.hash, r.shrunk.hash) << "... event for event";
  std::cout << "[zoo] " << s.name << ": check_property (PCT) fails at case " << r.cases
            << ", shrunk in " << r.shrink_runs << " runs from " << first.size() << " to "
            << shrunk.size() << " characters (" << trio::testing::count_nonzero(r.first_choices)
            << " -> " << trio::testing::count_nonzero(r.shrunk.choices)
            << " non-simplest choices): \"" << shrunk << "\"\n";
  return r;
}

// The correct variant passes the property search that found the buggy one.
void expect_property_passes(const Specimen& s, int cases = 300) {
  const PropertyResult r = trio::testing::check_property(s.of(Variant::kCorrect),
                                                         {.explore = pct(s), .max_cases = cases});
  EXPECT_TRUE(r.passed) << r.report;
  EXPECT_EQ(r.cases, cases);
}

// ---- 1. lost wake-up --------------------------------------------------------------------------

TEST(BugZooLostWakeup, SweepReportsTheStuckConsumerAsADeadlockWithTheTaskTree) {
  expect_sweep_finds(specimen("lost_wakeup"),
                     AllOf(HasSubstr("deadlock: every task is blocked"), HasSubstr("Task tree at"),
                           HasSubstr("task consumer: blocked on Mailbox.get"),
                           HasSubstr("task main: blocked on nursery exit")));
}

TEST(BugZooLostWakeup, CheckPropertyFindsAndShrinksIt) {
  expect_property_finds_and_shrinks(specimen("lost_wakeup"),
                                    HasSubstr("trio::DeadlockError: trio: deadlock"));
}

TEST(BugZooLostWakeup, CorrectMailboxPassesTheProperty) {
  expect_property_passes(specimen("lost_wakeup"));
}

// ---- 4. timeout racing completion ---------------------------------------------------------------

TEST(BugZooTimeoutRace, SweepFindsTheChargedVoidedOrder) {
  const SweepFailure f = expect_sweep_finds(specimen("timeout_racing_completion"),
                                            HasSubstr("no order is both charged and voided"));
  // The race: the payment service and the client's deadline at the same instant (100 ms).
  EXPECT_THAT(f.trace, HasSubstr("cancelled (deadline)"));
}

TEST(BugZooTimeoutRace, CheckPropertyFindsAndShrinksIt) {
  expect_property_finds_and_shrinks(specimen("timeout_racing_completion"),
                                    HasSubstr("no order is both charged and voided"));
}

TEST(BugZooTimeoutRace, CorrectCheckoutPassesTheProperty) {
  expect_property_passes(specimen("timeout_racing_completion"));
}

// ---- 5. ordering assumption between siblings ---------------------------------------------------

TEST(BugZooSiblingOrdering, SweepFindsTheServerRunningBeforeTheLoader) {
  expect_sweep_finds(
      specimen("sibling_ordering"),
      HasSubstr("[task server] a request was answered before the config was loaded"));
}

TEST(BugZooSiblingOrdering, CheckPropertyShrinksItToOneReversal) {
  const PropertyResult r = expect_property_finds_and_shrinks(
      specimen("sibling_ordering"),
      HasSubstr("[task server] a request was answered before the config was loaded"));
  EXPECT_EQ(trio::testing::count_nonzero(r.shrunk.choices), 1u) << r.report;
}

TEST(BugZooSiblingOrdering, CorrectStartUpPassesTheProperty) {
  expect_property_passes(specimen("sibling_ordering"));
}

// ---- 6. deadlock --------------------------------------------------------------------------------

TEST(BugZooDeadlock, SweepReportsTheDeadlockWithBothTransfersInTheTaskTree) {
  expect_sweep_finds(
      specimen("deadlock"),
      AllOf(HasSubstr("deadlock: every task is blocked"), HasSubstr("Task tree at"),
            HasSubstr("task transfer alice->bob: blocked on Lock.acquire"),
            HasSubstr("task transfer bob->alice: blocked on Lock.acquire"),
            // The named lock each waits for, who holds it, and the cycle.
            HasSubstr("task transfer alice->bob: blocked on Lock.acquire of lock "
                      "'accounts[bob]' (held by task transfer bob->alice)\n"),
            HasSubstr("task transfer bob->alice: blocked on Lock.acquire of lock "
                      "'accounts[alice]' (held by task transfer alice->bob)\n"),
            HasSubstr("deadlock cycle: task transfer alice->bob waits for lock 'accounts[bob]' "
                      "held by task transfer bob->alice, which waits for lock 'accounts[alice]' "
                      "held by task transfer alice->bob\n")));
}

TEST(BugZooDeadlock, CheckPropertyFindsAndShrinksIt) {
  expect_property_finds_and_shrinks(
      specimen("deadlock"),
      AllOf(HasSubstr("trio::DeadlockError: trio: deadlock"), HasSubstr("blocked on Lock.acquire"),
            HasSubstr("deadlock cycle: task transfer alice->bob waits for lock 'accounts[bob]' "
                      "held by task transfer bob->alice, which waits for lock 'accounts[alice]' "
                      "held by task transfer alice->bob")));
}

TEST(BugZooDeadlock, CorrectLockOrderPassesTheProperty) {
  expect_property_passes(specimen("deadlock"));
}

// ---- 7. livelock -------------------------------------------------------------------------------

TEST(BugZooLivelock, SweepReportsItThroughTheVirtualTimeBudget) {
  const SweepFailure f = expect_sweep_finds(
      specimen("livelock"),
      AllOf(HasSubstr("no progress (livelock?)"), HasSubstr("of virtual time (budget 0.200000s)"),
            HasSubstr("Task tree at"), HasSubstr("task node0: blocked on sleep"),
            HasSubstr("task node1: blocked on sleep")));
  // The trace shows the nodes retrying in lockstep until the budget cancels them.
  EXPECT_THAT(f.trace, HasSubstr("reason 'no progress: ProgressBudget exceeded'"));
}

TEST(BugZooLivelock, CheckPropertyFindsAndShrinksIt) {
  expect_property_finds_and_shrinks(
      specimen("livelock"),
      AllOf(HasSubstr("trio::testing::LivelockError: trio: no progress (livelock?)"),
            HasSubstr("task node0: blocked on sleep")));
}

TEST(BugZooLivelock, CorrectRandomizedBackOffPassesTheProperty) {
  expect_property_passes(specimen("livelock"));
}

// ---- 2. lock not released on cancellation -----------------------------------------------------

// The journal without timeouts (none fires in the run itself): exploration injects them.
trio::testing::Scenario journal_without_timeouts(Variant variant) {
  return [variant] { return trio::testing::bug_zoo::journal_scenario(variant, 1h); };
}

// explore_cancellation on the buggy variant: fails, and its first failing point is the first
// one at which a cancellation breaks the run (every earlier point passes on its own); the report
// names it, its task and scope, and how to replay it, and shows the trace.
CancelExploreReport expect_exploration_finds(const trio::testing::Scenario& body,
                                             const std::string& name,
                                             const Matcher<const std::string&>& symptom) {
  const CancelExploreReport report = trio::testing::explore_cancellation(body, nullptr, {});
  EXPECT_EQ(report.baseline_failure, "") << "the run without injection passes";
  EXPECT_FALSE(report.ok()) << report.to_string();
  if (report.failures.empty()) return report;
  const auto& f = report.failures.front();
  EXPECT_EQ(report.runs, f.point + 1) << "explored in order, stopped at the first failure";
  EXPECT_THAT(f.what, symptom);
  EXPECT_THAT(f.trace, HasSubstr("injected at cancel point " + std::to_string(f.point)));
  const std::string text = report.to_string();
  EXPECT_THAT(text, HasSubstr("first failure: cancel point " + std::to_string(f.point) + " (task " +
                              f.task));
  EXPECT_THAT(text, HasSubstr("trio::testing::run_with_cancellation(body, "
                              "invariants, /*point=*/" +
                              std::to_string(f.point)));
  EXPECT_THAT(text, HasSubstr("TRIO_REPLAY=seed=0:cancel=" + std::to_string(f.point) + "."));
  for (uint64_t k = 0; k < f.point; ++k) {
    EXPECT_EQ(trio::testing::run_with_cancellation(body, nullptr, k, 0), std::nullopt)
        << "point " << k << " passes";
  }
  const auto again = trio::testing::run_with_cancellation(body, nullptr, f.point, f.scope_index);
  EXPECT_TRUE(again.has_value()) << "the reported point fails again";
  if (again) {
    EXPECT_EQ(again->trace, f.trace);
  }
  std::cout << "[zoo] " << name << ": explore_cancellation fails first at cancel point " << f.point
            << " of " << report.cancel_points << " (task " << f.task << ")\n";
  return report;
}

// What the buggy journal raises, depending on who touches the lock next: its holder again, the
// other writer (once the holder has exited), or nobody (the final check).
Matcher<const std::string&> lock_left_held() {
  return AnyOf(HasSubstr("attempt to re-acquire an already held Lock"),
               HasSubstr("Owner of this lock exited without releasing"),
               HasSubstr("the journal's lock is free once every writer is done"));
}

TEST(BugZooLockNotReleased, ExplorationFindsTheFirstCancelPointThatLeavesTheLockHeld) {
  const auto report = expect_exploration_finds(journal_without_timeouts(Variant::kBuggy),
                                               "lock_not_released", lock_left_held());
  ASSERT_FALSE(report.failures.empty());
  EXPECT_THAT(report.failures.front().task, HasSubstr("writer"));
}

TEST(BugZooLockNotReleased, SweepFindsItWhenATimeoutFiresDuringTheFlush) {
  expect_sweep_finds(specimen("lock_not_released"), lock_left_held());
}

TEST(BugZooLockNotReleased, CheckPropertyFindsAndShrinksIt) {
  expect_property_finds_and_shrinks(specimen("lock_not_released"), lock_left_held());
}

TEST(BugZooLockNotReleased, CorrectJournalPassesExplorationAndTheProperty) {
  for (auto target :
       {trio::testing::CancelTarget::kInnermost, trio::testing::CancelTarget::kEach}) {
    const auto report = trio::testing::explore_cancellation(
        journal_without_timeouts(Variant::kCorrect), nullptr, {.target = target});
    EXPECT_TRUE(report.ok()) << report.to_string();
    EXPECT_GE(report.runs, report.cancel_points);
  }
  expect_property_passes(specimen("lock_not_released"));
}

// ---- 3. message dropped by a cancelled wrapper ------------------------------------------------

trio::testing::Scenario relay_without_deadline(Variant variant) {
  return [variant] { return trio::testing::bug_zoo::relay_scenario(variant, 1h); };
}

TEST(BugZooMessageDropped, ExplorationFindsTheFirstCancelPointThatLosesAMessage) {
  expect_exploration_finds(
      relay_without_deadline(Variant::kBuggy), "message_dropped",
      HasSubstr("every message is delivered, still in the inbox or handed back"));
}

TEST(BugZooMessageDropped, SweepFindsItWhenTheDeadlineFiresDuringTheSend) {
  expect_sweep_finds(specimen("message_dropped"),
                     HasSubstr("every message is delivered, still in the inbox or handed back"));
}

TEST(BugZooMessageDropped, CheckPropertyFindsAndShrinksIt) {
  expect_property_finds_and_shrinks(
      specimen("message_dropped"),
      HasSubstr("every message is delivered, still in the inbox or handed back"));
}

TEST(BugZooMessageDropped, CorrectRelayPassesExplorationAndTheProperty) {
  for (auto target :
       {trio::testing::CancelTarget::kInnermost, trio::testing::CancelTarget::kEach}) {
    const auto report = trio::testing::explore_cancellation(
        relay_without_deadline(Variant::kCorrect), nullptr, {.target = target});
    EXPECT_TRUE(report.ok()) << report.to_string();
    EXPECT_GE(report.runs, report.cancel_points);
  }
  expect_property_passes(specimen("message_dropped"));
}

// ---- shrunk cancellation reports --------------------------------------------------------------

// Explores `body`, and checks that the first failure was shrunk to the all-default schedule
// (no decision but the simplest), that the report shows the shrunk run folded (none of the
// run's own bookkeeping) and short, and that its repro line replays it.
void expect_exploration_report_shrunk(const trio::testing::Scenario& body,
                                      const Matcher<const std::string&>& symptom,
                                      size_t max_lines) {
  const CancelExploreReport report = trio::testing::explore_cancellation(body, nullptr, {});
  ASSERT_FALSE(report.ok());
  ASSERT_TRUE(report.shrunk.has_value()) << report.to_string();
  const auto& s = *report.shrunk;
  EXPECT_THAT(s.what, symptom);
  ASSERT_TRUE(s.choices.has_value());
  const auto values = trio::testing::parse_choices(*s.choices);
  ASSERT_TRUE(values.has_value()) << *s.choices;
  EXPECT_EQ(std::count(values->begin(), values->end(), 0u), static_cast<long>(values->size()))
      << "the all-default schedule: " << *s.choices;
  const std::string text = report.to_string();
  EXPECT_THAT(text, HasSubstr("under the all-default schedule"));
  EXPECT_THAT(text, HasSubstr("{.choices = \"" + *s.choices + "\"}"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("<init>")));
  EXPECT_LE(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')), max_lines) << text;
  const auto again = trio::testing::run_with_cancellation(body, nullptr, s.point, s.scope_index,
                                                          {.choices = *s.choices});
  ASSERT_TRUE(again.has_value()) << "the shrunk failure replays";
  EXPECT_EQ(again->what, s.what);
  EXPECT_EQ(again->task, s.task);
  std::cout << text;
}

TEST(BugZooLockNotReleased, ExplorationReportIsShrunkToTheDefaultScheduleAndFolded) {
  // Before shrinking and folding: 41 lines.
  expect_exploration_report_shrunk(journal_without_timeouts(Variant::kBuggy), lock_left_held(), 34);
}

TEST(BugZooMessageDropped, ExplorationReportIsShrunkToTheDefaultScheduleAndFolded) {
  // Before shrinking and folding: 45 lines.
  expect_exploration_report_shrunk(
      relay_without_deadline(Variant::kBuggy),
      HasSubstr("every message is delivered, still in the inbox or handed back"), 32);
}

}  // namespace
