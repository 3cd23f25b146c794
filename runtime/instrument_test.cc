// SPDX-License-Identifier: Apache-2.0 OR MIT
// Instruments (spec §1.18, Trio's test_instrumentation.py): every hook fires in Trio's exact
// order, in the right context, for the tasks it names; instruments can be added and removed
// during a run; a hook that throws removes its instrument without disturbing the run; and the
// I/O-wait hooks see the loop's final timeout. Time is virtual: a MockClock, or a rate-1
// simulated clock advanced only by a fake I/O backend, so no test sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::Duration;
using trio::Task;
using trio::lowlevel::TaskRecord;

namespace {

constexpr uint64_t kNoTask = UINT64_MAX;

struct Event {
  std::string hook;
  uint64_t task;  // the task's spawn counter, unique within a run; kNoTask for run-level hooks
  bool operator==(const Event&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
  os << e.hook;
  if (e.task != kNoTask) os << "(" << e.task << ")";
  return os;
}

// Records every hook, and whether it ran with a current task.
class Recorder : public trio::Instrument {
 public:
  std::vector<Event> events;
  std::vector<std::pair<std::string, bool>> in_task;  // hook -> trio::lowlevel::in_trio_task()
  std::vector<Duration> io_timeouts;

  void before_run() override { add("before_run", kNoTask); }
  void after_run() override { add("after_run", kNoTask); }
  void task_spawned(TaskRecord& t) override { add("spawned", t.counter); }
  void task_scheduled(TaskRecord& t) override { add("schedule", t.counter); }
  void before_task_step(TaskRecord& t) override {
    add("before", t.counter);
    EXPECT_EQ(&trio::lowlevel::current_task(), &t);
  }
  void after_task_step(TaskRecord& t) override {
    add("after", t.counter);
    EXPECT_EQ(&trio::lowlevel::current_task(), &t);
  }
  void task_exited(TaskRecord& t) override {
    add("exited", t.counter);
    EXPECT_EQ(&trio::lowlevel::current_task(), &t);
  }
  void before_io_wait(Duration timeout) override {
    add("before_io_wait", kNoTask);
    io_timeouts.push_back(timeout);
  }
  void after_io_wait(Duration timeout) override {
    add("after_io_wait", kNoTask);
    io_timeouts.push_back(timeout);
  }

  // The events of run-level hooks and of `task`'s schedule/step hooks (Trio's TaskRecorder).
  std::vector<Event> run_and_step_events_of(uint64_t task) const {
    std::vector<Event> out;
    for (const Event& e : events) {
      const bool run_hook = e.hook == "before_run" || e.hook == "after_run";
      const bool step_hook = e.hook == "schedule" || e.hook == "before" || e.hook == "after";
      if (run_hook || (step_hook && e.task == task)) out.push_back(e);
    }
    return out;
  }
  std::vector<Event> events_of(uint64_t task) const {
    std::vector<Event> out;
    for (const Event& e : events)
      if (e.task == task) out.push_back(e);
    return out;
  }

 private:
  void add(std::string hook, uint64_t task) {
    in_task.emplace_back(hook, trio::lowlevel::in_trio_task());
    events.push_back({std::move(hook), task});
  }
};

trio::RunOptions virtual_time(trio::MockClock& clock, std::vector<trio::Instrument*> instruments) {
  clock.set_autojump_threshold(0s);
  return trio::RunOptions{.clock = &clock, .instruments = std::move(instruments), .seed = 7};
}

uint64_t current_id() { return trio::lowlevel::current_task().counter; }

TEST(Instrument, OneTaskDoingFiveCheckpointsGivesTriosExactSequence) {
  trio::MockClock clock;
  Recorder rec;
  uint64_t main_id = kNoTask;
  trio::run(virtual_time(clock, {&rec}), [&]() -> Task<> {
    main_id = current_id();
    for (int i = 0; i < 5; ++i) co_await trio::checkpoint();
  });
  std::vector<Event> want{{"before_run", kNoTask}, {"schedule", main_id}};
  for (int i = 0; i < 5; ++i) {
    want.push_back({"before", main_id});
    want.push_back({"schedule", main_id});
    want.push_back({"after", main_id});
  }
  want.push_back({"before", main_id});
  want.push_back({"after", main_id});
  want.push_back({"after_run", kNoTask});
  EXPECT_EQ(rec.run_and_step_events_of(main_id), want);
  EXPECT_EQ(rec.events.front(), (Event{"before_run", kNoTask}));
  EXPECT_EQ(rec.events.back(), (Event{"after_run", kNoTask}));
}

TEST(Instrument, TwoTasksStartedTogetherInterleaveInOneBatch) {
  for (uint64_t seed = 0; seed < 8; ++seed) {
    trio::MockClock clock;
    Recorder rec;
    uint64_t ids[2] = {kNoTask, kNoTask};
    trio::RunOptions options = virtual_time(clock, {});
    options.seed = seed;
    trio::run(options, [&]() -> Task<> {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        trio::lowlevel::add_instrument(&rec);
        for (int k = 0; k < 2; ++k)
          n.start_soon([&ids, k]() -> Task<> {
            ids[k] = current_id();
            co_await trio::checkpoint();
          });
        co_return;
      });
      trio::lowlevel::remove_instrument(&rec);
    });
    // Keep only the two children's schedule/step hooks and the batch boundaries.
    std::vector<Event> got;
    for (const Event& e : rec.events) {
      const bool step_hook = e.hook == "schedule" || e.hook == "before" || e.hook == "after";
      if ((step_hook && (e.task == ids[0] || e.task == ids[1])) || e.hook == "before_io_wait")
        got.push_back(e);
    }
    auto triple = [](uint64_t t) {
      return std::vector<Event>{{"before", t}, {"schedule", t}, {"after", t}};
    };
    // Both scheduled at spawn, then one batch holding both triples, in either order.
    ASSERT_GE(got.size(), 9u) << "seed " << seed;
    EXPECT_EQ(got[0], (Event{"schedule", ids[0]}));
    EXPECT_EQ(got[1], (Event{"schedule", ids[1]}));
    EXPECT_EQ(got[2].hook, "before_io_wait");
    std::vector<Event> batch(got.begin() + 3, got.begin() + 9);
    std::vector<Event> ab = triple(ids[0]), ba = triple(ids[1]);
    ab.insert(ab.end(), ba.begin(), ba.end());
    ba.insert(ba.end(), ab.begin(), ab.begin() + 3);
    EXPECT_TRUE(batch == ab || batch == ba) << "seed " << seed;
  }
}

TEST(Instrument, SpawnedPrecedesFirstScheduleAndExitedHappensInsideTheLastStep) {
  trio::MockClock clock;
  Recorder rec;
  uint64_t child = kNoTask;
  trio::run(virtual_time(clock, {&rec}), [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        child = current_id();
        co_await trio::sleep(1s);
      });
      co_return;
    });
  });
  EXPECT_EQ(rec.events_of(child),
            (std::vector<Event>{{"spawned", child},
                                {"schedule", child},
                                {"before", child},
                                {"after", child},  // blocked in sleep: no schedule
                                {"schedule", child},
                                {"before", child},
                                {"exited", child},
                                {"after", child}}));
}

TEST(Instrument, BeforeRunPrecedesStartClockAndAfterRunFollowsTheTokenClosing) {
  std::vector<std::string> log;
  struct LoggingClock final : trio::Clock {
    std::vector<std::string>* log;
    void start_clock() override { log->push_back("start_clock"); }
    trio::TimePoint current_time() override { return trio::time_point_from_ns(0); }
    Duration deadline_to_sleep_time(trio::TimePoint) override { return 0ns; }
  } clock;
  clock.log = &log;
  struct RunHooks final : trio::Instrument {
    std::vector<std::string>* log;
    std::optional<trio::lowlevel::TrioToken> token;
    bool token_accepted_in_after_run = true;
    void before_run() override {
      log->push_back("before_run");
      EXPECT_TRUE(trio::lowlevel::in_trio_run());
      EXPECT_FALSE(trio::lowlevel::in_trio_task());
    }
    void after_run() override {
      log->push_back("after_run");
      token_accepted_in_after_run = token->try_run_sync_soon([](void*) {}, nullptr);
    }
  } hooks;
  hooks.log = &log;
  trio::run(trio::RunOptions{.clock = &clock, .instruments = {&hooks}}, [&]() -> Task<> {
    log.push_back("main");
    hooks.token = trio::lowlevel::current_trio_token();
    co_return;
  });
  EXPECT_EQ(log, (std::vector<std::string>{"before_run", "start_clock", "main", "after_run"}));
  EXPECT_FALSE(hooks.token_accepted_in_after_run);
}

TEST(Instrument, HooksRunInTaskContextExactlyWhenTheyConcernTheCurrentStep) {
  trio::MockClock clock;
  Recorder rec;
  trio::run(virtual_time(clock, {&rec}), [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([]() -> Task<> { co_await trio::sleep(1s); });
      co_return;
    });
  });
  for (const auto& [hook, in_task] : rec.in_task) {
    if (hook == "before_run" || hook == "after_run" || hook == "before_io_wait" ||
        hook == "after_io_wait") {
      EXPECT_FALSE(in_task) << hook;
    }
    if (hook == "before" || hook == "after" || hook == "exited") {
      EXPECT_TRUE(in_task) << hook;
    }
  }
}

TEST(Instrument, AddedDuringARunSeesTheRestOfTheCurrentStepAndLater) {
  trio::MockClock clock;
  Recorder rec;
  uint64_t main_id = kNoTask;
  trio::run(virtual_time(clock, {}), [&]() -> Task<> {
    main_id = current_id();
    co_await trio::checkpoint();
    trio::lowlevel::add_instrument(&rec);
    trio::lowlevel::add_instrument(&rec);  // idempotent
    co_await trio::checkpoint();
  });
  std::vector<Event> mine = rec.run_and_step_events_of(main_id);
  EXPECT_EQ(mine, (std::vector<Event>{{"schedule", main_id},
                                      {"after", main_id},
                                      {"before", main_id},
                                      {"after", main_id},
                                      {"after_run", kNoTask}}));
  // Added twice, called once per hook.
  EXPECT_EQ(std::count(rec.events.begin(), rec.events.end(), Event{"after_run", kNoTask}), 1);
}

TEST(Instrument, RemovedDuringARunSeesNothingMoreAndRemovingAgainIsKeyError) {
  trio::MockClock clock;
  Recorder rec;
  bool second_remove_raised = false;
  trio::run(virtual_time(clock, {&rec}), [&]() -> Task<> {
    co_await trio::checkpoint();
    trio::lowlevel::remove_instrument(&rec);
    try {
      trio::lowlevel::remove_instrument(&rec);
    } catch (const trio::KeyError&) {
      second_remove_raised = true;
    }
    co_await trio::sleep(1s);
  });
  EXPECT_TRUE(second_remove_raised);
  ASSERT_FALSE(rec.events.empty());
  // The last thing it saw is the start of the step that removed it: not that step's
  // after_task_step, no more I/O waits, no after_run.
  EXPECT_EQ(rec.events.back().hook, "before");
  EXPECT_EQ(std::count_if(rec.events.begin(), rec.events.end(),
                          [](const Event& e) { return e.hook == "after_run"; }),
            0);
}

TEST(Instrument, RemovingAnInstrumentThatWasNeverAddedIsKeyError) {
  Recorder rec;
  EXPECT_THROW(trio::run([&]() -> Task<> {
                 trio::lowlevel::remove_instrument(&rec);
                 co_return;
               }),
               trio::KeyError);
  EXPECT_THROW(trio::lowlevel::add_instrument(&rec), trio::RuntimeError);  // outside a run
}

TEST(Instrument, HooksMayAddAndRemoveInstrumentsWhileTheyAreBeingCalled) {
  // The first step removes `self_remover` from inside its own hook and adds `late`; `late`
  // is not called for the hook being dispatched, only for later ones.
  trio::MockClock clock;
  Recorder late;
  struct SelfRemover final : trio::Instrument {
    Recorder* late;
    int calls = 0;
    void before_task_step(TaskRecord&) override {
      ++calls;
      trio::lowlevel::remove_instrument(this);
      trio::lowlevel::add_instrument(late);
    }
  } self_remover;
  self_remover.late = &late;
  trio::run(virtual_time(clock, {&self_remover}), [&]() -> Task<> { co_await trio::checkpoint(); });
  EXPECT_EQ(self_remover.calls, 1);
  auto first_step_hook = std::find_if(late.events.begin(), late.events.end(), [](const Event& e) {
    return e.hook == "before" || e.hook == "after";
  });
  ASSERT_NE(first_step_hook, late.events.end());
  EXPECT_EQ(first_step_hook->hook, "after");  // the dispatch in progress did not reach `late`
  EXPECT_EQ(late.events.back().hook, "after_run");
}

// Throws from exactly one hook, the first time it is called.
class Thrower final : public trio::Instrument {
 public:
  explicit Thrower(std::string hook) : hook_(std::move(hook)) {}
  int calls = 0;
  void before_run() override { maybe_throw("before_run"); }
  void after_run() override { maybe_throw("after_run"); }
  void task_spawned(TaskRecord&) override { maybe_throw("spawned"); }
  void task_scheduled(TaskRecord&) override { maybe_throw("schedule"); }
  void before_task_step(TaskRecord&) override { maybe_throw("before"); }
  void after_task_step(TaskRecord&) override { maybe_throw("after"); }
  void task_exited(TaskRecord&) override { maybe_throw("exited"); }
  void before_io_wait(Duration) override { maybe_throw("before_io_wait"); }
  void after_io_wait(Duration) override { maybe_throw("after_io_wait"); }

 private:
  void maybe_throw(const char* hook) {
    if (hook_ != hook) return;
    ++calls;
    throw std::runtime_error(std::string("boom in ") + hook);
  }
  std::string hook_;
};

TEST(Instrument, AHookThatThrowsIsRemovedAndTheRunGoesOn) {
  for (const char* hook : {"before_run", "after_run", "spawned", "schedule", "before", "after",
                           "exited", "before_io_wait", "after_io_wait"}) {
    trio::MockClock clock;
    Thrower thrower(hook);
    Recorder witness;
    bool still_installed = true;
    int result = trio::run(virtual_time(clock, {&thrower, &witness}), [&]() -> Task<int> {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([]() -> Task<> { co_await trio::sleep(1s); });
        co_return;
      });
      try {
        trio::lowlevel::remove_instrument(&thrower);
      } catch (const trio::KeyError&) {
        still_installed = false;
      }
      if (still_installed) trio::lowlevel::add_instrument(&thrower);
      co_return 42;
    });
    EXPECT_EQ(result, 42) << hook;
    EXPECT_EQ(thrower.calls, 1) << hook;
    if (std::string(hook) != "after_run") {
      EXPECT_FALSE(still_installed) << hook;
    }
    // The other instrument saw the whole run.
    EXPECT_EQ(witness.events.front().hook, "before_run") << hook;
    EXPECT_EQ(witness.events.back().hook, "after_run") << hook;
    EXPECT_EQ(trio::lowlevel::live_frames(), 0);
  }
}

// ---- I/O-wait hooks ----------------------------------------------------------------------

// Virtual time that advances only when SimIo "waits": a rate-1 clock whose real time is
// simulated, so the loop's timeouts are observable exactly.
class SimClock final : public trio::Clock {
 public:
  trio::TimePoint current_time() override { return now_; }
  Duration deadline_to_sleep_time(trio::TimePoint d) override {
    return d <= now_ ? 0ns : trio::saturating_sub(d, now_);
  }
  void advance(Duration d) { now_ = trio::saturating_add(now_, d); }

 private:
  trio::TimePoint now_ = trio::time_point_from_ns(0);
};

class SimIo final : public trio::IoBackend {
 public:
  explicit SimIo(SimClock& clock) : clock_(clock) {}
  std::vector<Duration> waits;
  bool wait_for_events(Duration timeout) override {
    waits.push_back(timeout);
    if (waits.size() > 1000) throw std::runtime_error("SimIo: the loop keeps waiting (a hang)");
    clock_.advance(timeout);
    return false;
  }
  bool may_produce_events() const override { return false; }
  void enable_wakeups() override {}
  void wake() noexcept override {}
  void register_waiter(int, trio::IoDirection, trio::internal::TaskRec*) override {
    throw std::logic_error("SimIo has no file descriptors");
  }
  void unregister_waiter(int, trio::IoDirection) override {}
  void notify_closing(int) override {}
  trio::IoStatistics statistics() const override { return {"sim", 0, 0}; }

 private:
  SimClock& clock_;
};

TEST(Instrument, IoWaitHooksSeeTheTimeUntilTheNextDeadline) {
  SimClock clock;
  SimIo io(clock);
  Recorder rec;
  trio::run(trio::RunOptions{.clock = &clock, .instruments = {&rec}, .io_backend = &io},
            []() -> Task<> { co_await trio::sleep(3s); });
  // One blocking wait of exactly 3 s, reported identically before and after; every other
  // iteration had something runnable (timeout 0).
  std::vector<Duration> nonzero;
  for (Duration d : rec.io_timeouts)
    if (d != 0ns) nonzero.push_back(d);
  EXPECT_EQ(nonzero, (std::vector<Duration>{3s, 3s}));
  EXPECT_EQ(io.waits, (std::vector<Duration>{3s}));
}

TEST(Instrument, IoWaitTimeoutIsClampedToOneDay) {
  SimClock clock;
  SimIo io(clock);
  Recorder rec;
  trio::run(trio::RunOptions{.clock = &clock, .instruments = {&rec}, .io_backend = &io},
            []() -> Task<> { co_await trio::sleep(100h); });
  EXPECT_EQ(io.waits, (std::vector<Duration>{24h, 24h, 24h, 24h, 4h}));
}

TEST(Instrument, IoWaitTimeoutIsTheCushionWhenATaskWaitsForIdle) {
  SimClock clock;
  SimIo io(clock);
  Recorder rec;
  trio::TimePoint woke;
  trio::run(trio::RunOptions{.clock = &clock, .instruments = {&rec}, .io_backend = &io},
            [&]() -> Task<> {
              co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
                n.start_soon([]() -> Task<> { co_await trio::sleep(3s); });
                co_await trio::lowlevel::wait_all_tasks_blocked(2s);
                woke = trio::current_time();
              });
            });
  EXPECT_EQ(woke, trio::time_point_from_ns(2'000'000'000));
  EXPECT_EQ(io.waits, (std::vector<Duration>{2s, 1s}));
}

TEST(Instrument, IoWaitTimeoutIsZeroWhenMockClockAutojumps) {
  trio::MockClock clock;
  Recorder rec;
  trio::run(virtual_time(clock, {&rec}), []() -> Task<> { co_await trio::sleep(5s); });
  EXPECT_FALSE(rec.io_timeouts.empty());
  for (Duration d : rec.io_timeouts) EXPECT_EQ(d, 0ns);
  EXPECT_EQ(clock.current_time(), trio::time_point_from_ns(5'000'000'000));
}

}  // namespace
