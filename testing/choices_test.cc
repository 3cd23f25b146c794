// SPDX-License-Identifier: Apache-2.0 OR MIT
// Recorded choices: the choice string round-trips through parse_choices; normalization makes 0
// the FIFO choice for every kind; RecordingChoiceSource logs every decision of a run and
// ReplayChoiceSource replays it to the same trace hash; replay of a diverging or short sequence
// clamps to [0, n) and continues with zeros, so any edited sequence still yields a valid run.
#include "testing/choices.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"
#include "testing/property.h"
#include "testing/trace.h"

using trio::ChoiceKind;
using trio::Task;
using trio::testing::format_choices;
using trio::testing::parse_choices;

namespace {

// Four siblings interleaving checkpoints and sleeps: batches of several tasks and deadline ties.
Task<> busy_siblings() {
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    for (int i = 0; i < 4; ++i)
      n.start_soon(
          [](int me) -> Task<> {
            for (int k = 0; k < 3; ++k) {
              co_await trio::checkpoint();
              co_await trio::sleep(std::chrono::seconds(1 + (me + k) % 2));
            }
          },
          i);
    co_return;
  });
}

}  // namespace

TEST(ChoiceString, FormatsZeroRunsCompactly) {
  EXPECT_EQ(format_choices(std::vector<uint64_t>{}), "");
  EXPECT_EQ(format_choices(std::vector<uint64_t>{1, 0, 0, 0, 2}), "1,0*3,2");
  EXPECT_EQ(format_choices(std::vector<uint64_t>{0, 5, 0}), "0,5,0");
  EXPECT_EQ(format_choices(std::vector<uint64_t>{0, 0}), "0*2");
}

TEST(ChoiceString, ParsesWhatItFormats) {
  for (std::vector<uint64_t> v : std::vector<std::vector<uint64_t>>{
           {}, {0}, {7}, {1, 0, 0, 0, 2}, {0, 0, 0}, {3, 0, 0, 18446744073709551615u}}) {
    auto parsed = parse_choices(format_choices(v));
    ASSERT_TRUE(parsed.has_value()) << format_choices(v);
    EXPECT_EQ(*parsed, v);
  }
  EXPECT_EQ(*parse_choices(" 1, 0*2 ,3 "), (std::vector<uint64_t>{1, 0, 0, 3}));
}

TEST(ChoiceString, RejectsMalformedText) {
  for (const char* bad : {"x", "1,,2", "1,", "2*3", "0*", "-1", "1 2", "0*x"})
    EXPECT_FALSE(parse_choices(bad).has_value()) << bad;
}

// A number is decimal digits with optional whitespace around them: no sign, no base prefix, at
// most 2^64 - 1.
TEST(ChoiceString, NumbersAreDecimalDigitsWithOptionalWhitespace) {
  EXPECT_EQ(*parse_choices("\t7\n, 0 * 2"), (std::vector<uint64_t>{7, 0, 0}));
  EXPECT_EQ(*parse_choices("007,18446744073709551615"),
            (std::vector<uint64_t>{7, 18446744073709551615u}));
  for (const char* bad : {"+1", " +1", "-0", "0*+2", "0x10", "1e3", "18446744073709551616", " ,1"})
    EXPECT_FALSE(parse_choices(bad).has_value()) << bad;
}

TEST(ChoiceNormalization, ZeroIsTheFifoChoiceForEveryKind) {
  // Fisher–Yates kinds: the identity step is raw n - 1.
  EXPECT_EQ(trio::testing::denormalize_choice(4, ChoiceKind::kBatchShuffle, 0), 3u);
  EXPECT_EQ(trio::testing::denormalize_choice(4, ChoiceKind::kDeadlineTie, 0), 3u);
  EXPECT_EQ(trio::testing::denormalize_choice(4, ChoiceKind::kBatchShuffle, 3), 0u);
  // The others: raw 0 (no reversal, first waiter first).
  EXPECT_EQ(trio::testing::denormalize_choice(2, ChoiceKind::kBatchReverse, 0), 0u);
  EXPECT_EQ(trio::testing::denormalize_choice(5, ChoiceKind::kWakeOrder, 0), 0u);
  for (uint64_t raw = 0; raw < 6; ++raw)
    EXPECT_EQ(trio::testing::normalize_choice(
                  6, ChoiceKind::kBatchShuffle,
                  trio::testing::denormalize_choice(6, ChoiceKind::kBatchShuffle, raw)),
              raw);
}

TEST(RecordingChoiceSource, LogsEveryDecisionOfARun) {
  trio::testing::RecordingChoiceSource rec(11);
  trio::MockClock clock;
  clock.set_autojump_threshold(std::chrono::nanoseconds(0));
  trio::run(
      trio::RunOptions{
          .clock = &clock, .scheduling = trio::SchedulingPolicy::kShuffle, .choices = &rec},
      busy_siblings);
  ASSERT_FALSE(rec.choices().empty());
  bool saw_shuffle = false, saw_tie = false;
  for (const auto& c : rec.choices()) {
    EXPECT_LT(c.value, c.n);
    saw_shuffle |= c.kind == ChoiceKind::kBatchShuffle;
    saw_tie |= c.kind == ChoiceKind::kDeadlineTie;
  }
  EXPECT_TRUE(saw_shuffle);
  EXPECT_TRUE(saw_tie);
  EXPECT_EQ(*parse_choices(rec.choice_string()), trio::testing::choice_values(rec.choices()));
}

TEST(ReplayChoiceSource, ReplaysARecordedRunToTheSameTraceHash) {
  for (auto schedule : {trio::testing::Schedule::kCoinFlip, trio::testing::Schedule::kShuffle,
                        trio::testing::Schedule::kPct}) {
    trio::testing::ExploreOptions options{.schedule = schedule};
    for (uint64_t seed = 1; seed <= 10; ++seed) {
      auto first = trio::testing::run_seed(busy_siblings, seed, options);
      ASSERT_FALSE(first.failed()) << first.error;
      auto again = trio::testing::replay_choices(busy_siblings, first.choice_string(), options);
      EXPECT_EQ(again.hash, first.hash) << trio::testing::schedule_name(schedule) << " " << seed;
      EXPECT_EQ(again.choices, first.choices);
    }
  }
}

TEST(ReplayChoiceSource, ClampsOutOfRangeValuesAndPadsWithZeros) {
  trio::testing::ReplayChoiceSource replay({5, 1});
  EXPECT_EQ(replay.choose(2, ChoiceKind::kBatchReverse), 1u);  // 5 clamped to 1
  EXPECT_TRUE(replay.diverged());
  EXPECT_EQ(replay.choose(3, ChoiceKind::kBatchShuffle), 1u);  // normalized 1 -> raw 3 - 1 - 1
  EXPECT_EQ(replay.choose(3, ChoiceKind::kBatchShuffle), 2u);  // past the end: 0 -> identity
  EXPECT_EQ(replay.choose(9, ChoiceKind::kUser), 0u);
  EXPECT_EQ(replay.choice_string(), "1,1,0*2");
}

TEST(ReplayChoiceSource, AnySequenceYieldsAValidRun) {
  // Garbage in, a complete run out: what lets a shrinker edit the sequence freely.
  for (const char* text : {"", "9,9,9,9,9,9,9,9,9,9,9,9", "1,0*40,3", "18446744073709551615"}) {
    auto run = trio::testing::replay_choices(busy_siblings, text,
                                             {.schedule = trio::testing::Schedule::kShuffle});
    EXPECT_FALSE(run.failed()) << text << ": " << run.error;
    EXPECT_EQ(trio::lowlevel::live_frames(), 0);
  }
}

namespace {

// ddmin_choices on a synthetic failure: 1,000 decisions, all non-zero, of which the failure
// needs only #700 and #701 (non-zero).
struct SyntheticFailure {
  std::vector<uint64_t> best = std::vector<uint64_t>(1000, 1);
  static bool fails(const std::vector<uint64_t>& v) {
    return v.size() > 701 && v[700] != 0 && v[701] != 0;
  }
  static size_t nonzero(const std::vector<uint64_t>& v) {
    return static_cast<size_t>(std::count_if(v.begin(), v.end(), [](uint64_t x) { return x; }));
  }
};

TEST(Ddmin, KeepsOnlyTheNeededDecisionsInLogarithmicallyManyReplays) {
  SyntheticFailure f;
  const int runs = trio::testing::ddmin_choices(
      [&](std::vector<uint64_t> v) {
        v.resize(f.best.size(), 0);  // replay: past the end every choice is 0
        if (!f.fails(v) || f.nonzero(v) >= f.nonzero(f.best)) return false;
        f.best = std::move(v);
        return true;
      },
      [&] { return f.best; }, /*max_runs=*/1000);
  EXPECT_EQ(f.nonzero(f.best), 2u);
  EXPECT_TRUE(f.fails(f.best));
  EXPECT_LE(runs, 60) << "halves first, not 1,000 single decisions";
}

TEST(Ddmin, TriesTheAllDefaultSequenceFirst) {
  std::vector<std::vector<uint64_t>> tried;
  const int runs = trio::testing::ddmin_choices(
      [&](std::vector<uint64_t> v) {
        tried.push_back(v);
        return true;  // everything fails: the first candidate wins
      },
      [] { return std::vector<uint64_t>{}; }, 100);
  EXPECT_EQ(runs, 1);
  ASSERT_EQ(tried.size(), 1u);
  EXPECT_TRUE(tried[0].empty());
}

TEST(Ddmin, StopsAfterMaxRuns) {
  std::vector<uint64_t> best(64, 1);
  const int runs = trio::testing::ddmin_choices([](std::vector<uint64_t>) { return false; },
                                                [&] { return best; }, 7);
  EXPECT_EQ(runs, 7);
}

}  // namespace
