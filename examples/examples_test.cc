// SPDX-License-Identifier: Apache-2.0 OR MIT
// The tutorial programs (async_double, double_sleep, tasks_intro, tracer) run unchanged on a
// MockClock with fixed seeds and print the lines of Trio's tutorial: exactly where the order is
// fixed, as sets where the scheduler may order tasks either way, and, for the tracer, with the
// run loop's hook structure checked event by event (timings only loosely).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "examples/async_double_lib.h"
#include "examples/double_sleep_lib.h"
#include "examples/simulate.h"
#include "examples/tasks_intro_lib.h"
#include "examples/tracer_lib.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

namespace examples {
namespace {

using namespace std::chrono_literals;
using Lines = std::vector<std::string>;

// ---- async_double -----------------------------------------------------------------------------

TEST(AsyncDouble, RegularAndAsyncDoubleBothReturnSix) {
  EXPECT_EQ(regular_double(3), 6);
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  EXPECT_EQ(trio::run(trio::RunOptions{.clock = &clock, .seed = 1}, async_double, 3), 6);
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

TEST(AsyncDouble, PrintDoublePrintsSixWithoutTimePassing) {
  Simulated r = simulate(print_double, {}, 3);
  EXPECT_EQ(r.output, "6\n");
  EXPECT_EQ(r.elapsed, 0s);
}

// ---- double_sleep -----------------------------------------------------------------------------

TEST(DoubleSleep, SleepsTwiceXSecondsOfVirtualTime) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  trio::run(trio::RunOptions{.clock = &clock, .seed = 1}, double_sleep, 3);
  EXPECT_EQ(clock.current_time().time_since_epoch(), 6s);
}

TEST(DoubleSleep, RestedDoubleSleepWakesAfterSixSeconds) {
  Simulated r = simulate(rested_double_sleep, {}, 3);
  EXPECT_EQ(r.output,
            "*yawn* Going to sleep\n"
            "Woke up after 6.00 seconds, feeling well rested!\n");
  EXPECT_EQ(r.elapsed, 6s);
}

// ---- tasks_intro ------------------------------------------------------------------------------

const std::set<std::string> kChildrenStarted = {"  child1: started! sleeping now...",
                                                "  child2: started! sleeping now..."};
const std::set<std::string> kChildrenExiting = {"  child1: exiting!", "  child2: exiting!"};

// Checks the tutorial's output: the parent's lines in order, then both "started" lines (either
// order), then both "exiting" lines (either order), then "parent: all done!".
void ExpectTasksIntroOutput(const Lines& lines) {
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_EQ(lines[0], "parent: started!");
  EXPECT_EQ(lines[1], "parent: spawning child1...");
  EXPECT_EQ(lines[2], "parent: spawning child2...");
  EXPECT_EQ(lines[3], "parent: waiting for children to finish...");
  EXPECT_EQ((std::set<std::string>{lines[4], lines[5]}), kChildrenStarted);
  EXPECT_EQ((std::set<std::string>{lines[6], lines[7]}), kChildrenExiting);
  EXPECT_EQ(lines[8], "parent: all done!");
}

TEST(TasksIntro, PrintsTheTutorialLinesInOneSecondNotTwo) {
  Simulated r = simulate(parent, {.seed = 1});
  ExpectTasksIntroOutput(split_lines(r.output));
  EXPECT_EQ(r.elapsed, 1s);  // the children slept at the same time
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

TEST(TasksIntro, RunsOnAMockClockWithoutRealSleeping) {
  // [START mock_clock]
  trio::MockClock clock;
  clock.set_autojump_threshold(std::chrono::seconds(0));  // jump to the next deadline at once
  std::ostringstream out;
  trio::run(trio::RunOptions{.clock = &clock, .seed = 42}, parent, std::ref(out));
  // out holds the tutorial's lines; clock.current_time() is 1 s of virtual time.
  // [END mock_clock]
  EXPECT_EQ(clock.current_time().time_since_epoch(), 1s);
  ExpectTasksIntroOutput(split_lines(out.str()));
}

TEST(TasksIntro, SameSeedGivesTheSameOutput) {
  for (uint64_t seed = 0; seed < 8; ++seed) {
    EXPECT_EQ(simulate(parent, {.seed = seed}).output, simulate(parent, {.seed = seed}).output)
        << "seed " << seed;
  }
}

TEST(TasksIntro, ChildrenRunInEitherOrderDependingOnTheSeed) {
  // As in Trio, each batch of runnable tasks runs in spawn order or reversed (a coin flip), so
  // across seeds both orders of the "started" lines show up.
  std::set<std::string> first_started;
  for (uint64_t seed = 0; seed < 32; ++seed) {
    const Lines lines = split_lines(simulate(parent, {.seed = seed}).output);
    ExpectTasksIntroOutput(lines);
    if (lines.size() > 4) first_started.insert(lines[4]);
  }
  EXPECT_EQ(first_started, kChildrenStarted);
}

TEST(TasksIntro, FifoSchedulingPrintsChild1First) {
  const Lines lines =
      split_lines(simulate(parent, {.scheduling = trio::SchedulingPolicy::kFifo}).output);
  ExpectTasksIntroOutput(lines);
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_EQ(lines[4], "  child1: started! sleeping now...");
  EXPECT_EQ(lines[6], "  child1: exiting!");
}

// ---- tracer -----------------------------------------------------------------------------------

TEST(Tracer, FormatSecondsPrintsLikePythonFloatRepr) {
  EXPECT_EQ(format_seconds(0s), "0.0");
  EXPECT_EQ(format_seconds(1s), "1.0");
  EXPECT_EQ(format_seconds(500ms), "0.5");
  EXPECT_EQ(format_seconds(999875us), "0.999875");
  EXPECT_EQ(format_seconds(15us), "1.5e-05");
  EXPECT_EQ(format_seconds(431ns), "4.31e-07");
  EXPECT_EQ(format_seconds(86400s), "86400.0");
  EXPECT_EQ(format_seconds(trio::kInfDuration), "inf");
}

// The tasks_intro program run with the Tracer on a MockClock; returns the trace.
Lines TraceTasksIntro(uint64_t seed) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  std::ostringstream out;
  Tracer tracer(out);
  trio::run(trio::RunOptions{.clock = &clock, .instruments = {&tracer}, .seed = seed}, parent,
            std::ref(out));
  return split_lines(out.str());
}

// "### new task spawned: child1" -> {"### new task spawned", "child1"}; other lines -> {line, ""}.
std::pair<std::string, std::string> SplitHookLine(const std::string& line) {
  static const char* const kTaskHooks[] = {
      "### new task spawned: ", "### task scheduled: ", ">>> about to run one step of task: ",
      "<<< task step finished: ", "### task exited: "};
  for (const char* hook : kTaskHooks) {
    const std::string prefix = hook;
    if (line.rfind(prefix, 0) == 0)
      return {prefix.substr(0, prefix.size() - 2), line.substr(prefix.size())};
  }
  return {line, ""};
}

// The task whose output `line` is ("" for trace lines).
std::string TaskPrinting(const std::string& line) {
  if (line.rfind("parent: ", 0) == 0) return "main";
  if (line.rfind("  child1: ", 0) == 0) return "child1";
  if (line.rfind("  child2: ", 0) == 0) return "child2";
  return "";
}

// Parses "### finished I/O check (took X seconds)"; false if `line` is not one.
bool ParseIoCheckDuration(const std::string& line, double* seconds) {
  const std::string prefix = "### finished I/O check (took ";
  const std::string suffix = " seconds)";
  if (line.rfind(prefix, 0) != 0 || line.size() < prefix.size() + suffix.size() ||
      line.compare(line.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  const std::string number =
      line.substr(prefix.size(), line.size() - prefix.size() - suffix.size());
  char* end = nullptr;
  *seconds = std::strtod(number.c_str(), &end);
  return !number.empty() && *end == '\0';
}

TEST(Tracer, TraceHasTheRunLoopStructureOfTrioTutorial) {
  const Lines trace = TraceTasksIntro(/*seed=*/3);
  ASSERT_GE(trace.size(), 2u);
  EXPECT_EQ(trace.front(), "!!! run started");
  EXPECT_EQ(trace.back(), "!!! run finished");

  std::string stepping;              // the task whose step is open, "" between steps
  bool in_io_check = false;          // between "waiting for I/O"/"quick check" and "finished"
  std::set<std::string> spawned;     // tasks seen in "new task spawned"
  std::map<std::string, int> exits;  // "task exited" count per task
  int io_checks = 0;
  for (size_t i = 1; i + 1 < trace.size(); ++i) {
    const std::string& line = trace[i];
    SCOPED_TRACE("line " + std::to_string(i) + ": " + line);
    const auto [hook, task] = SplitHookLine(line);
    if (!task.empty()) {
      // Every task is announced by task_spawned before any other hook names it.
      if (hook == "### new task spawned") {
        EXPECT_TRUE(spawned.insert(task).second) << "spawned twice";
      } else {
        EXPECT_TRUE(spawned.count(task)) << "named before it was spawned";
      }
    }
    if (hook == ">>> about to run one step of task") {
      EXPECT_EQ(stepping, "") << "a step began inside another step";
      EXPECT_FALSE(in_io_check) << "a step began during an I/O check";
      EXPECT_EQ(exits[task], 0) << "an exited task ran";
      stepping = task;
    } else if (hook == "<<< task step finished") {
      EXPECT_EQ(stepping, task) << "a step finished that was not running";
      stepping.clear();
    } else if (hook == "### task exited") {
      EXPECT_EQ(stepping, task) << "a task exited outside its own step";
      ++exits[task];
    } else if (line == "### doing a quick check for I/O" ||
               line.rfind("### waiting for I/O for up to ", 0) == 0) {
      EXPECT_EQ(stepping, "") << "an I/O check inside a step";
      EXPECT_FALSE(in_io_check);
      in_io_check = true;
      ++io_checks;
    } else if (line.rfind("### finished I/O check", 0) == 0) {
      double seconds = -1;
      EXPECT_TRUE(ParseIoCheckDuration(line, &seconds));
      EXPECT_GE(seconds, 0.0);  // virtual time: the autojump itself happens after the check
      EXPECT_TRUE(in_io_check);
      in_io_check = false;
    } else if (task.empty()) {
      // Program output: printed by the task whose step is open.
      EXPECT_EQ(stepping, TaskPrinting(line)) << "output outside its task's step";
    }
  }
  EXPECT_EQ(stepping, "");
  EXPECT_FALSE(in_io_check);
  EXPECT_GE(io_checks, 3);
  EXPECT_EQ(spawned, (std::set<std::string>{"<init>", "main", "child1", "child2"}));
  for (const std::string& task : spawned) EXPECT_EQ(exits[task], 1) << task;
}

TEST(Tracer, ProgramLinesInTheTraceAreTheTasksIntroOutput) {
  Lines program;
  for (const std::string& line : TraceTasksIntro(/*seed=*/5)) {
    if (!TaskPrinting(line).empty()) program.push_back(line);
  }
  ExpectTasksIntroOutput(program);
}

TEST(Tracer, LastChildToExitWakesTheParent) {
  // The tutorial's "Notice how parent gets scheduled when the [last] child exits": main is
  // scheduled inside the step of the second child to exit, just before that child's exit.
  for (uint64_t seed = 0; seed < 4; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const Lines trace = TraceTasksIntro(seed);
    std::vector<size_t> exiting;  // indices of the children's "exiting!" lines
    size_t parent_woken = 0;      // index of the last "### task scheduled: main"
    for (size_t i = 0; i < trace.size(); ++i) {
      if (kChildrenExiting.count(trace[i])) exiting.push_back(i);
      if (trace[i] == "### task scheduled: main") parent_woken = i;
    }
    ASSERT_EQ(exiting.size(), 2u);
    ASSERT_GT(parent_woken, exiting[1]);
    const std::string last_child = TaskPrinting(trace[exiting[1]]);
    EXPECT_EQ(trace[parent_woken + 1], "### task exited: " + last_child);
    EXPECT_EQ(trace[parent_woken + 2], "<<< task step finished: " + last_child);
  }
}

TEST(Tracer, TheRunBeginsLikeTrioTutorialTrace) {
  // Up to the children's first steps the trace is fixed (one task runnable at a time); it is the
  // tutorial's, minus Trio's <TrioToken.run_sync_soon task>, with our task names.
  const Lines trace = TraceTasksIntro(/*seed=*/1);
  const Lines expected = {
      "!!! run started",
      "### new task spawned: <init>",
      "### task scheduled: <init>",
      "### doing a quick check for I/O",
      "### finished I/O check (took 0.0 seconds)",
      ">>> about to run one step of task: <init>",
      "### new task spawned: main",
      "### task scheduled: main",
      "<<< task step finished: <init>",
      "### doing a quick check for I/O",
      "### finished I/O check (took 0.0 seconds)",
      ">>> about to run one step of task: main",
      "parent: started!",
      "parent: spawning child1...",
      "### new task spawned: child1",
      "### task scheduled: child1",
      "parent: spawning child2...",
      "### new task spawned: child2",
      "### task scheduled: child2",
      "parent: waiting for children to finish...",
      "<<< task step finished: main",
  };
  ASSERT_GE(trace.size(), expected.size());
  EXPECT_EQ(Lines(trace.begin(), trace.begin() + expected.size()), expected);
}

}  // namespace
}  // namespace examples
