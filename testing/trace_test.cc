// SPDX-License-Identifier: Apache-2.0 OR MIT
// TraceRecorder (testing/trace.h): a run on a virtual clock is recorded as events in Trio's hook
// order — spawn, wake-ups with what they woke from, steps, blocks with what the task waits on,
// cancellations with their source (a deadline expiry shows as source "deadline"), idle periods
// and exits — in an exact text form; the hash is FNV-1a over fixed-order fields, pinned here by
// reference vectors and by a golden value that must be the same under g++ and clang.
#include "testing/trace.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using trio::Task;
using trio::testing::kNoTask;
using trio::testing::Trace;
using trio::testing::TraceEvent;
using trio::testing::TraceEventKind;
using trio::testing::TraceRecorder;

namespace {

// Runs `body` on an autojump MockClock with `recorders` installed.
void run_recorded(std::vector<trio::Instrument*> recorders, std::function<Task<>()> body,
                  trio::SchedulingPolicy policy = trio::SchedulingPolicy::kFifo,
                  uint64_t seed = 1) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::run(
      trio::RunOptions{
          .clock = &clock, .instruments = std::move(recorders), .seed = seed, .scheduling = policy},
      std::move(body));
}

Trace record(std::function<Task<>()> body,
             trio::SchedulingPolicy policy = trio::SchedulingPolicy::kFifo) {
  TraceRecorder recorder;
  run_recorded({&recorder}, std::move(body), policy);
  return recorder.trace();
}

std::vector<TraceEvent> of_task(const Trace& trace, const std::string& task) {
  std::vector<TraceEvent> out;
  std::copy_if(trace.begin(), trace.end(), std::back_inserter(out),
               [&](const TraceEvent& e) { return e.task == task; });
  return out;
}

const TraceEvent* find(const Trace& trace, TraceEventKind kind, const std::string& task) {
  for (const TraceEvent& e : trace)
    if (e.kind == kind && e.task == task) return &e;
  return nullptr;
}

// main spawns "sleeper", which sleeps 1 s; main waits for it in the nursery.
Task<> sleeper_scenario() {
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon(trio::TaskName("sleeper"), []() -> Task<> { co_await trio::sleep(1s); });
    co_return;
  });
}

// ---- text and hash primitives ------------------------------------------------------------------

TEST(TraceText, TimeIsSecondsWithSixDecimalsComputedExactly) {
  EXPECT_EQ(trio::testing::format_time_ns(0), "0.000000s");
  EXPECT_EQ(trio::testing::format_time_ns(12'000'000'000), "12.000000s");
  EXPECT_EQ(trio::testing::format_time_ns(1'234'567'891), "1.234567s");  // truncated, not rounded
  EXPECT_EQ(trio::testing::format_time_ns(-500'000'000), "-0.500000s");
  EXPECT_EQ(trio::testing::format_time_ns(INT64_MIN), "-9223372036.854775s");
}

TEST(TraceText, EventLineIsTimeTaskKindDetail) {
  TraceEvent e{12'000'000'000, TraceEventKind::kStep, 3, kNoTask, "main.3", ""};
  EXPECT_EQ(trio::testing::format_event(e), "12.000000s main.3 step");
  e.kind = TraceEventKind::kBlocked;
  e.detail = "on sleep";
  EXPECT_EQ(trio::testing::format_event(e), "12.000000s main.3 blocked on sleep");
  TraceEvent idle{0, TraceEventKind::kIdle, kNoTask, kNoTask, "-", "(no deadline)"};
  EXPECT_EQ(trio::testing::format_event(idle), "0.000000s - idle (no deadline)");
}

TEST(TraceText, LongTracesAreCutWithACount) {
  Trace t(5, TraceEvent{0, TraceEventKind::kNote, kNoTask, kNoTask, "-", "x"});
  EXPECT_EQ(trio::testing::format_trace(t, 2),
            "0.000000s - note x\n0.000000s - note x\n... 3 more events\n");
}

TEST(TraceText, TailKeepsTheLastLinesAfterACount) {
  Trace t;
  for (const char* d : {"a", "b", "c", "d"})
    t.push_back(TraceEvent{0, TraceEventKind::kNote, kNoTask, kNoTask, "-", d});
  EXPECT_EQ(trio::testing::format_trace_tail(t, 2),
            "... 2 earlier events\n0.000000s - note c\n0.000000s - note d\n");
  EXPECT_EQ(trio::testing::format_trace_tail(t, 9), trio::testing::format_trace(t));
}

TEST(TraceHash, Fnv1aMatchesTheReferenceVectors) {
  using trio::testing::fnv1a;
  using trio::testing::kFnvOffset;
  EXPECT_EQ(fnv1a(kFnvOffset, ""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a(kFnvOffset, "a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a(kFnvOffset, "foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(trio::testing::format_hash(0xaf63dc4c8601ec8cULL), "0xaf63dc4c8601ec8c");
}

TEST(TraceHash, EveryFieldOfAnEventChangesTheHash) {
  const TraceEvent base{1, TraceEventKind::kStep, 2, 3, "t", "d"};
  const uint64_t h = trio::testing::hash_event(trio::testing::kFnvOffset, base);
  std::vector<TraceEvent> variants(6, base);
  variants[0].time_ns = 2;
  variants[1].kind = TraceEventKind::kYield;
  variants[2].task_id = 9;
  variants[3].parent_id = 9;
  variants[4].task = "u";
  variants[5].detail = "e";
  for (const TraceEvent& v : variants)
    EXPECT_NE(trio::testing::hash_event(trio::testing::kFnvOffset, v), h)
        << trio::testing::format_event(v);
  // Strings are length-prefixed: moving a byte from task to detail changes the hash.
  TraceEvent a{0, TraceEventKind::kNote, kNoTask, kNoTask, "ab", "c"};
  TraceEvent b{0, TraceEventKind::kNote, kNoTask, kNoTask, "a", "bc"};
  EXPECT_NE(trio::testing::trace_hash({a}), trio::testing::trace_hash({b}));
}

// ---- what a run records ------------------------------------------------------------------------

TEST(TraceRecorder, RecordsARunAsTextAndHash) {
  // [START tracing_recorder]
  trio::testing::TraceRecorder recorder;
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::run(trio::RunOptions{.clock = &clock, .instruments = {&recorder}, .seed = 7},
            sleeper_scenario);
  std::string text = recorder.to_string();  // one line per event: "1.000000s sleeper step"
  uint64_t hash = recorder.hash();          // same code, same seed: same hash, on any compiler
  // [END tracing_recorder]
  EXPECT_THAT(text, HasSubstr("\n1.000000s sleeper step\n"));
  EXPECT_EQ(hash, trio::testing::trace_hash(recorder.trace()));
}

// The text form of a small run, pinned: the hook order, the names and the details.
TEST(TraceRecorder, RecordsASleepingChildInHookOrder) {
  const Trace trace = record(sleeper_scenario);
  // <init> runs the system and main nurseries; a child's exit reschedules its parent inside the
  // child's last step (before task_exited, as in Trio); leaving the system nursery is a
  // schedule point (yield).
  EXPECT_EQ(trio::testing::format_trace(trace), R"(0.000000s <init> spawned
0.000000s <init> scheduled
0.000000s <init> step
0.000000s main spawned by <init>
0.000000s main scheduled
0.000000s <init> blocked on nursery exit (waiting for children)
0.000000s main step
0.000000s sleeper spawned by main
0.000000s sleeper scheduled
0.000000s main blocked on nursery exit (waiting for children)
0.000000s sleeper step
0.000000s sleeper blocked on sleep
0.000000s - idle until 1.000000s
1.000000s sleeper scheduled after sleep
1.000000s sleeper step
1.000000s main scheduled after nursery exit (waiting for children)
1.000000s sleeper exited
1.000000s main step
1.000000s <init> scheduled after nursery exit (waiting for children)
1.000000s main exited
1.000000s <init> step
1.000000s <init> scheduled
1.000000s <init> yield
1.000000s <init> step
1.000000s <init> exited
)");
}

// The same run's hash: a fixed value, so g++ and clang builds (and any machine) must agree.
TEST(TraceRecorder, HashOfAFixedRunIsTheSameOnEveryCompiler) {
  TraceRecorder recorder;
  run_recorded({&recorder}, sleeper_scenario);
  EXPECT_EQ(recorder.hash(), trio::testing::trace_hash(recorder.trace()));
  EXPECT_EQ(trio::testing::format_hash(recorder.hash()), "0x6e324381feb927c1");
}

TEST(TraceRecorder, SpawnNamesTheNurseryOwnerAndItsCounter) {
  const Trace trace = record(sleeper_scenario);
  const TraceEvent* spawn = find(trace, TraceEventKind::kSpawned, "sleeper");
  ASSERT_NE(spawn, nullptr);
  const TraceEvent* main_spawn = find(trace, TraceEventKind::kSpawned, "main");
  ASSERT_NE(main_spawn, nullptr);
  EXPECT_EQ(spawn->parent_id, main_spawn->task_id);
  EXPECT_EQ(spawn->detail, "by main");
  EXPECT_EQ(main_spawn->detail, "by <init>");
  EXPECT_EQ(main_spawn->parent_id, 0u);  // <init> is task 0
}

TEST(TraceRecorder, WakeUpNamesTheWaitItEnded) {
  const Trace trace = record([]() -> Task<> {
    trio::lowlevel::ParkingLot lot;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("waiter"),
                   [&]() -> Task<> { co_await lot.park("the door bell"); });
      co_await trio::sleep(2s);
      lot.unpark();
    });
  });
  const std::vector<TraceEvent> waiter = of_task(trace, "waiter");
  std::vector<std::string> lines;
  for (const TraceEvent& e : waiter) lines.push_back(trio::testing::format_event(e));
  EXPECT_THAT(lines, ::testing::Contains("0.000000s waiter blocked on the door bell"));
  EXPECT_THAT(lines, ::testing::Contains("2.000000s waiter scheduled after the door bell"));
}

TEST(TraceRecorder, DeadlineExpiryIsACancellationWithSourceDeadline) {
  const Trace trace = record([]() -> Task<> {
    co_await trio::move_on_after(3s, [&]() -> Task<> { co_await trio::sleep_forever(); });
  });
  const TraceEvent* c = find(trace, TraceEventKind::kCancelled, "main");
  ASSERT_NE(c, nullptr) << trio::testing::format_trace(trace);
  EXPECT_EQ(trio::testing::format_event(*c),
            "3.000000s main cancelled (deadline) after sleep_forever");
}

TEST(TraceRecorder, ExplicitCancellationOfARunnableTaskIsSeenAtItsCheckpoint) {
  const Trace trace = record([]() -> Task<> {
    trio::CancelScope scope;
    co_await scope.enter([&](trio::CancelScope& s) -> Task<> {
      s.cancel("enough");
      co_await trio::checkpoint();
    });
  });
  const TraceEvent* c = find(trace, TraceEventKind::kCancelled, "main");
  ASSERT_NE(c, nullptr) << trio::testing::format_trace(trace);
  EXPECT_EQ(c->detail, "(explicit) reason 'enough'");
}

TEST(TraceRecorder, WakeUpWithAnErrorNamesTheError) {
  const Trace trace = record([]() -> Task<> {
    trio::lowlevel::ParkingLot lot;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("parked"), [&]() -> Task<> {
        try {
          co_await lot.park("lot");
        } catch (const trio::BrokenResourceError&) {
        }
      });
      co_await trio::sleep(1s);
      lot.break_lot();
    });
  });
  const TraceEvent* s = nullptr;
  for (const TraceEvent& e : trace)
    if (e.task == "parked" && e.kind == TraceEventKind::kScheduled && !e.detail.empty()) s = &e;
  ASSERT_NE(s, nullptr) << trio::testing::format_trace(trace);
  EXPECT_THAT(s->detail, HasSubstr("with Parking lot broken by main"));
  EXPECT_THAT(s->detail, HasSubstr("after lot"));
}

TEST(TraceRecorder, CheckpointIsAStepThatYields) {
  const Trace trace = record([]() -> Task<> { co_await trio::checkpoint(); });
  std::vector<TraceEventKind> kinds;
  for (const TraceEvent& e : of_task(trace, "main")) kinds.push_back(e.kind);
  // The checkpoint reschedules the task inside its step, before the step ends.
  EXPECT_THAT(kinds, ::testing::ElementsAre(TraceEventKind::kSpawned, TraceEventKind::kScheduled,
                                            TraceEventKind::kStep, TraceEventKind::kScheduled,
                                            TraceEventKind::kYield, TraceEventKind::kStep,
                                            TraceEventKind::kExited));
}

TEST(TraceRecorder, IdleEventSaysWhereTheClockJumps) {
  const Trace trace = record([]() -> Task<> { co_await trio::sleep(1500ms); });
  std::vector<std::string> idles;
  for (const TraceEvent& e : trace)
    if (e.kind == TraceEventKind::kIdle) idles.push_back(trio::testing::format_event(e));
  EXPECT_THAT(idles, ::testing::ElementsAre("0.000000s - idle until 1.500000s"));
}

TEST(TraceRecorder, BoundedStorageStillHashesAndCountsEveryEvent) {
  TraceRecorder full;
  TraceRecorder bounded(10);
  run_recorded({&full, &bounded}, []() -> Task<> {
    for (int i = 0; i < 20; ++i) co_await trio::checkpoint();
  });
  EXPECT_EQ(bounded.trace().size(), 10u);
  EXPECT_TRUE(bounded.truncated());
  EXPECT_FALSE(full.truncated());
  EXPECT_EQ(bounded.event_count(), full.event_count());
  EXPECT_EQ(bounded.hash(), full.hash());
  EXPECT_TRUE(std::equal(bounded.trace().begin(), bounded.trace().end(), full.trace().begin()));
}

TEST(TraceRecorder, ANewRunStartsANewTraceAndNotesAreRecorded) {
  TraceRecorder recorder;
  run_recorded({&recorder}, []() -> Task<> { co_await trio::sleep(1s); });
  const uint64_t first = recorder.hash();
  recorder.note("between runs");
  EXPECT_EQ(trio::testing::format_event(recorder.trace().back()), "1.000000s - note between runs");
  run_recorded({&recorder}, []() -> Task<> { co_await trio::sleep(1s); });
  EXPECT_EQ(recorder.hash(), first);  // before_run cleared the note and the first trace
}

TEST(TraceRecorder, SameSeedSameTraceDifferentPolicyDifferentTrace) {
  const auto racy = []() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 3; ++i)
        n.start_soon([]() -> Task<> {
          for (int k = 0; k < 3; ++k) co_await trio::checkpoint();
        });
      co_return;
    });
  };
  const Trace fifo = record(racy, trio::SchedulingPolicy::kFifo);
  EXPECT_EQ(record(racy, trio::SchedulingPolicy::kFifo), fifo);
  EXPECT_NE(record(racy, trio::SchedulingPolicy::kLifo), fifo);
}

// ---- reports: folding and cycles ---------------------------------------------------------------

TEST(TraceReport, FoldingLeavesOutTheRunsBookkeepingButNotTheUsersTasks) {
  const Trace trace = record(sleeper_scenario);
  const uint64_t hash = trio::testing::trace_hash(trace);
  size_t folded = 0;
  const Trace shown = trio::testing::fold_trace(trace, &folded);
  EXPECT_EQ(trio::testing::trace_hash(trace), hash) << "the recorded trace is not changed";
  EXPECT_EQ(shown.size() + folded, trace.size());
  EXPECT_GT(folded, 0u);
  for (const TraceEvent& e : shown) EXPECT_NE(e.task, "<init>") << trio::testing::format_event(e);
  // Every event of the user's tasks but the reschedule that comes with a spawn.
  EXPECT_EQ(of_task(shown, "sleeper").size(), of_task(trace, "sleeper").size() - 1);
  EXPECT_NE(find(shown, TraceEventKind::kScheduled, "sleeper"), nullptr) << "after sleep: kept";
  const std::string text = trio::testing::format_report_trace(trace, 100);
  EXPECT_THAT(text, HasSubstr("(" + std::to_string(folded) + " of " + std::to_string(trace.size()) +
                              " events are the run's own"));
  EXPECT_THAT(text, HasSubstr("sleeper blocked on sleep\n"));
}

TEST(TraceReport, ACheckpointFoldsToAStepAndAYield) {
  const Trace shown =
      trio::testing::fold_trace(record([]() -> Task<> { co_await trio::checkpoint(); }));
  std::vector<TraceEventKind> kinds;
  for (const TraceEvent& e : of_task(shown, "main")) kinds.push_back(e.kind);
  EXPECT_THAT(kinds, ::testing::ElementsAre(TraceEventKind::kStep, TraceEventKind::kYield,
                                            TraceEventKind::kStep, TraceEventKind::kExited));
}

// `lead` distinct events, then `turns` turns of a 3-event loop taking 10 ms each.
Trace looping_trace(int lead, int turns) {
  Trace t;
  for (int i = 0; i < lead; ++i)
    t.push_back(TraceEvent{0, TraceEventKind::kNote, kNoTask, kNoTask, "-", std::to_string(i)});
  for (int k = 0; k < turns; ++k) {
    const int64_t now = 1'000'000 + k * 10'000'000;
    t.push_back(TraceEvent{now, TraceEventKind::kStep, 2, kNoTask, "a", ""});
    t.push_back(TraceEvent{now, TraceEventKind::kBlocked, 2, kNoTask, "a", "on sleep"});
    t.push_back(TraceEvent{now, TraceEventKind::kIdle, kNoTask, kNoTask, "-",
                           "until " + trio::testing::format_time_ns(now + 10'000'000)});
  }
  return t;
}

TEST(TraceReport, FindsTheShortestRepeatingSuffixComparedWithoutTimes) {
  const Trace t = looping_trace(5, 8);
  auto cycle = trio::testing::find_cycle(t, t.size());
  ASSERT_TRUE(cycle.has_value());
  EXPECT_EQ(cycle->length, 3u);
  EXPECT_EQ(cycle->repetitions, 8u);
  EXPECT_EQ(cycle->start, 5u);
  EXPECT_EQ(cycle->end, t.size());
  EXPECT_EQ(cycle->period_ns, 10'000'000);
  const std::string text = trio::testing::format_cycle_report(t, *cycle);
  EXPECT_THAT(text, HasSubstr("-- the cycle, its last turn (turn 8 of 8, 0.010000s"));
  EXPECT_THAT(text, HasSubstr("0.071000s a step\n0.071000s a blocked on sleep\n"));
  // Cut after the loop: what follows is reported after it.
  Trace longer = t;
  longer.push_back(TraceEvent{90'000'000, TraceEventKind::kExited, 2, kNoTask, "a", ""});
  cycle = trio::testing::find_cycle(longer, t.size());
  ASSERT_TRUE(cycle.has_value());
  EXPECT_THAT(trio::testing::format_cycle_report(longer, *cycle),
              HasSubstr("-- after the cycle:\n0.090000s a exited\n"));
}

TEST(TraceReport, NoCycleInATraceThatDoesNotRepeat) {
  EXPECT_FALSE(trio::testing::find_cycle(looping_trace(20, 0), 20).has_value());
  EXPECT_FALSE(trio::testing::find_cycle(looping_trace(5, 2), 11).has_value())
      << "two turns are not enough";
}

}  // namespace
