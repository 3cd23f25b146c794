// SPDX-License-Identifier: Apache-2.0 OR MIT
// MockClock and wait_all_tasks_blocked (spec §1.19, §2.10; Trio's test_mock_clock.py and the
// wait_all_tasks_blocked tests of test_testing.py): the clock's arithmetic (jump, rate,
// deadline_to_sleep_time), autojump moving time exactly to the next deadline, threshold changes
// taking effect at once, a clock that is not the run's doing nothing, and
// wait_all_tasks_blocked's priority over autojump and its cushion rule. Runs use a fake I/O
// backend that records each wait instead of sleeping, so no test waits for real time (the rate
// tests only read the real clock, with tiny rates and loose bounds).
#include "simclock/mock_clock.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/trio.h"

using namespace std::chrono_literals;
using trio::Duration;
using trio::Task;
using trio::TimePoint;

namespace {

TimePoint at(Duration d) { return trio::time_point_from_ns(0) + d; }

// An I/O backend with no I/O. A wait returns at once with no events, as if `timeout` of real
// time had passed (calling `on_wait`); `strict` makes any positive wait fail the run instead,
// which turns "the loop would have slept" into a test failure rather than a hang.
class RecordingIo final : public trio::IoBackend {
 public:
  explicit RecordingIo(bool strict) : strict_(strict) {}
  std::vector<Duration> waits;
  std::function<void(Duration)> on_wait;
  bool wait_for_events(Duration timeout) override {
    waits.push_back(timeout);
    if (strict_ && timeout > 0ns)
      throw std::runtime_error("the loop waited " + std::to_string(timeout.count()) +
                               " ns of real time");
    if (waits.size() > 1000) throw std::runtime_error("the loop keeps waiting (a hang)");
    if (on_wait) on_wait(timeout);
    return false;
  }
  bool may_produce_events() const override { return false; }
  void enable_wakeups() override {}
  void wake() noexcept override {}
  void register_waiter(int, trio::IoDirection, trio::internal::TaskRec*) override {
    throw std::logic_error("RecordingIo has no file descriptors");
  }
  void unregister_waiter(int, trio::IoDirection) override {}
  void notify_closing(int) override {}
  trio::IoStatistics statistics() const override { return {"recording", 0, 0}; }

 private:
  bool strict_;
};

// A rate-1 clock over simulated real time: RecordingIo's waits advance it, so the cushions
// of wait_all_tasks_blocked and the sleeps of other tasks interleave as in real time.
class SimClock final : public trio::Clock {
 public:
  TimePoint current_time() override { return now_; }
  Duration deadline_to_sleep_time(TimePoint d) override {
    return d <= now_ ? 0ns : trio::saturating_sub(d, now_);
  }
  void advance(Duration d) { now_ = trio::saturating_add(now_, d); }

 private:
  TimePoint now_ = at(0ns);
};

// ---- arithmetic ---------------------------------------------------------------------------

TEST(MockClock, StartsAtZeroFrozenAndWithoutAutojump) {
  trio::MockClock clock;
  EXPECT_EQ(clock.current_time(), at(0ns));
  EXPECT_EQ(clock.rate(), 0.0);
  EXPECT_EQ(clock.autojump_threshold(), trio::kInfDuration);
  EXPECT_EQ(clock.current_time(), at(0ns));
}

TEST(MockClock, JumpAddsExactlyAndANegativeJumpIsValueError) {
  trio::MockClock clock;
  clock.jump(1200ms);
  EXPECT_EQ(clock.current_time(), at(1200ms));
  EXPECT_THROW(clock.jump(-1s), trio::ValueError);
  EXPECT_THROW(clock.jump(std::chrono::duration<double>(std::nan(""))), trio::ValueError);
  EXPECT_EQ(clock.current_time(), at(1200ms));
  clock.jump(std::chrono::duration<double>(0.5));  // exact in binary (0.8 would round up 1 ns)
  EXPECT_EQ(clock.current_time(), at(1700ms));
}

TEST(MockClock, FrozenSleepTimeIsZeroForPastDeadlinesAndHugeForFutureOnes) {
  trio::MockClock clock;
  clock.jump(1200ms);
  EXPECT_EQ(clock.deadline_to_sleep_time(at(1100ms)), 0ns);
  EXPECT_EQ(clock.deadline_to_sleep_time(at(1200ms)), 0ns);
  EXPECT_EQ(clock.deadline_to_sleep_time(at(1300ms)), std::chrono::seconds(999999999));
  EXPECT_EQ(clock.deadline_to_sleep_time(trio::kInf), std::chrono::seconds(999999999));
}

TEST(MockClock, NegativeOrNanRateIsValueErrorAndLeavesTheRate) {
  trio::MockClock clock;
  EXPECT_THROW(clock.set_rate(-1), trio::ValueError);
  EXPECT_THROW(clock.set_rate(std::nan("")), trio::ValueError);
  EXPECT_EQ(clock.rate(), 0.0);
  EXPECT_THROW(clock.set_autojump_threshold(-1s), trio::ValueError);
  EXPECT_EQ(clock.autojump_threshold(), trio::kInfDuration);
}

TEST(MockClock, ChangingTheRateKeepsTimeContinuous) {
  // At 1e-6 virtual s per real s, a millisecond of virtual time takes 1000 s of real time, so
  // within this test the running clock stays within [t, t + 1 ms).
  trio::MockClock clock;
  clock.jump(3200ms);
  clock.set_rate(1e-6);
  EXPECT_EQ(clock.rate(), 1e-6);
  const TimePoint t1 = clock.current_time();
  EXPECT_GE(t1, at(3200ms));
  EXPECT_LT(t1, at(3201ms));
  clock.jump(1s);
  EXPECT_GE(clock.current_time(), at(4200ms));
  EXPECT_LT(clock.current_time(), at(4201ms));
  clock.set_rate(0);
  const TimePoint frozen = clock.current_time();
  EXPECT_GE(frozen, at(4200ms));
  EXPECT_EQ(clock.current_time(), frozen);
}

TEST(MockClock, SleepTimeIsTheVirtualDistanceDividedByTheRate) {
  trio::MockClock clock;
  clock.set_rate(1e-6);
  Duration d = clock.deadline_to_sleep_time(clock.current_time() + 1ms);
  EXPECT_LE(d, 1000s);
  EXPECT_GT(d, 990s);  // only the real time elapsed since the read above is subtracted
  EXPECT_EQ(clock.deadline_to_sleep_time(clock.current_time() - 1ms), 0ns);

  // Far deadlines, so that the real time elapsed between the calls hardly matters.
  clock.set_rate(2);
  d = clock.deadline_to_sleep_time(clock.current_time() + 1000s);
  EXPECT_LE(d, 500s);
  EXPECT_GT(d, 490s);
  clock.set_rate(0.5);
  d = clock.deadline_to_sleep_time(clock.current_time() + 1000s);
  EXPECT_LE(d, 2000s);
  EXPECT_GT(d, 1990s);
}

TEST(MockClock, ConstructorTakesRateAndThreshold) {
  trio::MockClock clock(3.0, 0s);
  EXPECT_EQ(clock.rate(), 3.0);
  EXPECT_EQ(clock.autojump_threshold(), 0ns);
  EXPECT_LT(clock.current_time(), at(10s));
}

// ---- autojump -----------------------------------------------------------------------------

TEST(MockClock, AutojumpMovesTimeExactlyToTheNextDeadline) {
  trio::MockClock clock;
  RecordingIo io(/*strict=*/true);
  clock.set_autojump_threshold(0s);
  trio::run(trio::RunOptions{.clock = &clock, .io_backend = &io}, [&]() -> Task<> {
    EXPECT_EQ(trio::current_time(), at(0ns));
    for (int i = 0; i < 10; ++i) {
      const TimePoint start = trio::current_time();
      co_await trio::sleep(std::chrono::seconds(10 * i));
      EXPECT_EQ(trio::current_time(), start + std::chrono::seconds(10 * i)) << i;
    }
  });
  EXPECT_EQ(clock.current_time(), at(450s));
  EXPECT_TRUE(io.waits.empty());  // never waited for real time
}

TEST(MockClock, SleepersWakeAtTheirOwnDeadlinesInOrder) {
  trio::MockClock clock;
  RecordingIo io(/*strict=*/true);
  clock.set_autojump_threshold(0s);
  std::vector<TimePoint> woke;
  trio::run(trio::RunOptions{.clock = &clock, .io_backend = &io}, [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (auto d : {5s, 3s, 3s})
        n.start_soon([&woke, d]() -> Task<> {
          co_await trio::sleep(d);
          woke.push_back(trio::current_time());
        });
      co_return;
    });
  });
  EXPECT_EQ(woke, (std::vector<TimePoint>{at(3s), at(3s), at(5s)}));
}

TEST(MockClock, AutojumpWaitsUntilNothingIsRunnable) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  std::vector<TimePoint> seen;
  trio::run(trio::RunOptions{.clock = &clock, .seed = 3}, [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([]() -> Task<> { co_await trio::sleep(10s); });
      n.start_soon([&seen]() -> Task<> {
        for (int i = 0; i < 100; ++i) {
          seen.push_back(trio::current_time());
          co_await trio::checkpoint();
        }
      });
      co_return;
    });
  });
  ASSERT_EQ(seen.size(), 100u);
  for (TimePoint t : seen) EXPECT_EQ(t, at(0ns));
  EXPECT_EQ(clock.current_time(), at(10s));
}

TEST(MockClock, AThresholdSetBeforeTheRunIsUsed) {
  trio::MockClock clock(0.0, 100ms);
  clock.set_autojump_threshold(0s);
  RecordingIo io(/*strict=*/true);
  trio::run(trio::RunOptions{.clock = &clock, .io_backend = &io},
            []() -> Task<> { co_await trio::sleep(10000s); });
  EXPECT_EQ(clock.current_time(), at(10000s));
}

TEST(MockClock, ANonZeroThresholdIsWaitedInRealTimeBeforeTheJump) {
  trio::MockClock clock;
  clock.set_autojump_threshold(20ms);
  RecordingIo io(/*strict=*/false);
  trio::run(trio::RunOptions{.clock = &clock, .io_backend = &io},
            []() -> Task<> { co_await trio::sleep(1000s); });
  EXPECT_EQ(io.waits, (std::vector<Duration>{20ms}));
  EXPECT_EQ(clock.current_time(), at(1000s));
}

TEST(MockClock, ChangingTheThresholdDuringARunTakesEffectAtOnce) {
  trio::MockClock clock;
  RecordingIo io(/*strict=*/true);
  trio::run(trio::RunOptions{.clock = &clock, .io_backend = &io}, [&]() -> Task<> {
    clock.set_autojump_threshold(10000s);
    co_await trio::lowlevel::wait_all_tasks_blocked();
    // If the loop still used 10000 s, the next sleep would wait for real (the strict backend
    // fails the run).
    clock.set_autojump_threshold(0s);
    co_await trio::sleep(100000s);
  });
  EXPECT_EQ(clock.current_time(), at(100000s));
}

TEST(MockClock, AClockThatIsNotTheRunsClockDoesNothing) {
  trio::MockClock run_clock;  // no autojump
  trio::MockClock other;
  RecordingIo io(/*strict=*/false);
  // Stand-in for a day of real time passing during the wait: move the run's clock by hand.
  io.on_wait = [&](Duration) { run_clock.jump(1s); };
  trio::run(trio::RunOptions{.clock = &run_clock, .io_backend = &io}, [&]() -> Task<> {
    other.set_autojump_threshold(0s);
    co_await trio::sleep(1s);
  });
  // The loop waited its full (clamped) timeout: nothing primed an autojump.
  EXPECT_EQ(io.waits, (std::vector<Duration>{24h}));
  EXPECT_EQ(run_clock.current_time(), at(1s));
  EXPECT_EQ(other.current_time(), at(0ns));
}

TEST(MockClock, AutojumpZeroDoesNotPreemptWaitAllTasksBlockedZero) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  RecordingIo io(/*strict=*/true);
  std::vector<std::string> record;
  trio::run(trio::RunOptions{.clock = &clock, .io_backend = &io}, [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await trio::sleep(100s);
        record.push_back("yawn");
      });
      n.start_soon([&]() -> Task<> {
        co_await trio::lowlevel::wait_all_tasks_blocked();
        record.push_back("waiter woke");
        co_await trio::sleep(1000s);
        record.push_back("waiter done");
      });
      co_return;
    });
  });
  EXPECT_EQ(record, (std::vector<std::string>{"waiter woke", "yawn", "waiter done"}));
}

TEST(MockClock, WaitAllTasksBlockedWithACushionSuppressesAutojump) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  RecordingIo io(/*strict=*/false);
  std::vector<std::string> record;
  trio::run(trio::RunOptions{.clock = &clock, .io_backend = &io}, [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await trio::sleep(100s);
        record.push_back("yawn");
      });
      n.start_soon([&]() -> Task<> {
        co_await trio::lowlevel::wait_all_tasks_blocked(1s);
        record.push_back("waiter done");
      });
      co_return;
    });
  });
  EXPECT_EQ(record, (std::vector<std::string>{"waiter done", "yawn"}));
  EXPECT_EQ(io.waits, (std::vector<Duration>{1s}));  // the cushion, in (simulated) real time
}

// ---- wait_all_tasks_blocked ----------------------------------------------------------------

TEST(WaitAllTasksBlocked, WakesOnlyOnceEveryOtherTaskIsBlocked) {
  std::vector<std::string> record;
  trio::run(trio::RunOptions{.seed = 11}, [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        for (int i = 0; i < 10; ++i) co_await trio::checkpoint();
        record.push_back("busy bee exhausted");
      });
      for (int i = 0; i < 2; ++i)
        n.start_soon([&]() -> Task<> {
          co_await trio::lowlevel::wait_all_tasks_blocked();
          record.push_back("quiet at last!");
        });
      co_return;
    });
  });
  EXPECT_EQ(record,
            (std::vector<std::string>{"busy bee exhausted", "quiet at last!", "quiet at last!"}));
}

TEST(WaitAllTasksBlocked, OnlyTheSmallestCushionWakesAndAllOfItAtOnce) {
  SimClock clock;
  RecordingIo io(/*strict=*/false);
  io.on_wait = [&](Duration d) { clock.advance(d); };
  std::vector<std::pair<std::string, TimePoint>> record;
  auto note = [&](const char* what) { record.emplace_back(what, trio::current_time()); };
  trio::run(trio::RunOptions{.clock = &clock, .seed = 2, .io_backend = &io}, [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        note("blink start");
        for (int i = 0; i < 3; ++i) co_await trio::sleep(10ms);
        note("blink end");
      });
      n.start_soon([&]() -> Task<> {
        co_await trio::lowlevel::wait_all_tasks_blocked();
        note("wait_no_cushion end");
      });
      for (int i = 0; i < 2; ++i)
        n.start_soon([&]() -> Task<> {
          co_await trio::lowlevel::wait_all_tasks_blocked(20ms);
          note("wait_small_cushion end");
        });
      n.start_soon([&]() -> Task<> {
        co_await trio::lowlevel::wait_all_tasks_blocked(30ms);
        note("wait_big_cushion end");
      });
      co_return;
    });
  });
  // The blinker's 10 ms sleeps keep interrupting the cushions; once it is done, the two small
  // waiters wake together after 20 ms, and the big one's 30 ms starts over after that.
  using R = std::vector<std::pair<std::string, TimePoint>>;
  EXPECT_EQ(record, (R{{"blink start", at(0ms)},
                       {"wait_no_cushion end", at(0ms)},
                       {"blink end", at(30ms)},
                       {"wait_small_cushion end", at(50ms)},
                       {"wait_small_cushion end", at(50ms)},
                       {"wait_big_cushion end", at(80ms)}}));
  EXPECT_EQ(io.waits, (std::vector<Duration>{10ms, 10ms, 10ms, 20ms, 30ms}));
}

TEST(WaitAllTasksBlocked, IsCancellableAndLeavesNoWaiterBehind) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  RecordingIo io(/*strict=*/true);
  std::vector<std::string> record;
  trio::run(trio::RunOptions{.clock = &clock, .io_backend = &io}, [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        try {
          co_await trio::lowlevel::wait_all_tasks_blocked(1h);
        } catch (const trio::Cancelled&) {
          record.push_back("cancelled");
          throw;
        }
      });
      // The smaller cushion wakes first; the child is still waiting.
      co_await trio::lowlevel::wait_all_tasks_blocked();
      n.cancel_scope().cancel();
    });
    // A leftover waiter would suppress autojump here (and the strict backend fail the run).
    co_await trio::sleep(5s);
    record.push_back("slept");
  });
  EXPECT_EQ(record, (std::vector<std::string>{"cancelled", "slept"}));
  EXPECT_EQ(clock.current_time(), at(5s));
}

TEST(WaitAllTasksBlocked, InAnAlreadyCancelledScopeRaisesCancelled) {
  bool caught = false;
  trio::run([&]() -> Task<> {
    trio::CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> { co_await trio::lowlevel::wait_all_tasks_blocked(); });
    caught = scope.cancelled_caught();
  });
  EXPECT_TRUE(caught);
}

TEST(WaitAllTasksBlocked, NegativeCushionIsValueError) {
  EXPECT_THROW(trio::run([]() -> Task<> { co_await trio::lowlevel::wait_all_tasks_blocked(-1s); }),
               trio::ValueError);
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

}  // namespace
