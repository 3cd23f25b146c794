// SPDX-License-Identifier: Apache-2.0 OR MIT
// Timeouts and deadlines (spec §1.3–1.4, §2.4–2.5; Trio's test_timeouts.py and the deadline tests
// of test_run.py, rewritten): sleep and sleep(0) are checkpoints, bad durations are ValueErrors,
// move_on/fail_after/at time out at the exact virtual instant, even when shielded; a relative
// deadline is fixed at entry; deadlines moved after entry (earlier or later, also while a task is
// blocked) take effect; cancel_called reads the deadline; unentered scopes refuse the accessor
// that does not apply, with Trio's messages; and current_effective_deadline follows shields.
// Time is an autojump MockClock's: exact, and no test sleeps for real.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::CancelScope;
using trio::Task;

namespace {

trio::TimePoint at(trio::Duration d) { return trio::TimePoint(d); }

class Sim {
 public:
  Sim() { clock.set_autojump_threshold(0s); }
  ~Sim() { EXPECT_EQ(trio::lowlevel::live_frames(), 0) << "a coroutine frame leaked"; }
  template <class F>
  auto run(F main) {
    return trio::run(trio::RunOptions{.clock = &clock, .seed = 1}, std::move(main));
  }
  trio::MockClock clock;
};

template <class Aw>
Task<bool> raises_cancelled(Aw aw) {
  bool cancelled = false;
  try {
    co_await std::move(aw);
  } catch (const trio::Cancelled&) {
    cancelled = true;
  }
  co_return cancelled;
}

template <class E, class F>
std::string message_of(F&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  return "<no exception>";
}

struct Counts {
  uint32_t cancel, schedule;
};
Counts counts() {
  auto& t = trio::lowlevel::current_task();
  return {t.cancel_points, t.schedule_points};
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

// ---- sleep --------------------------------------------------------------------------------

TEST(Sleep, AdvancesVirtualTimeExactly) {
  Sim sim;
  sim.run([]() -> Task<> {
    for (int i = 1; i <= 3; ++i) {
      const trio::TimePoint before = trio::current_time();
      co_await trio::sleep(std::chrono::seconds(10 * i));
      EXPECT_EQ(trio::current_time() - before, std::chrono::seconds(10 * i));
    }
    co_await trio::sleep_until(at(100s));
    EXPECT_EQ(trio::current_time(), at(100s));
  });
}

TEST(Sleep, SleepZeroIsACheckpoint) {
  Sim sim;
  sim.run([]() -> Task<> {
    Counts before = counts();
    co_await trio::sleep(0s);
    Counts after = counts();
    EXPECT_EQ(after.cancel - before.cancel, 1u);
    EXPECT_EQ(after.schedule - before.schedule, 1u);
    CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      scope.cancel();
      EXPECT_TRUE(co_await raises_cancelled(trio::sleep(0s)));
    });
    EXPECT_EQ(trio::current_time(), at(0s));
  });
}

TEST(Sleep, SleepUntilThePastStillCheckpoints) {
  Sim sim;
  sim.run([]() -> Task<> {
    co_await trio::sleep(5s);
    Counts before = counts();
    co_await trio::sleep_until(at(1s));
    Counts after = counts();
    EXPECT_EQ(trio::current_time(), at(5s));
    EXPECT_EQ(after.cancel - before.cancel, 1u);
    EXPECT_EQ(after.schedule - before.schedule, 1u);
    CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      scope.cancel();
      EXPECT_TRUE(co_await raises_cancelled(trio::sleep_until(trio::current_time())));
    });
  });
}

TEST(Sleep, NegativeOrNaNDurationIsValueError) {
  EXPECT_EQ(message_of<trio::ValueError>([] { (void)trio::sleep(-1s); }),
            "`seconds` must be non-negative");
  EXPECT_EQ(
      message_of<trio::ValueError>([] { (void)trio::sleep(std::chrono::duration<double>(kNaN)); }),
      "`seconds` must not be NaN");
  EXPECT_EQ(
      message_of<trio::ValueError>([] { (void)trio::sleep(std::chrono::duration<double>(-0.5)); }),
      "`seconds` must be non-negative");
}

TEST(Sleep, FloatingDurationsRoundUpToTheNextNanosecond) {
  Sim sim;
  sim.run([]() -> Task<> {
    co_await trio::sleep(std::chrono::duration<double>(1e-10));
    EXPECT_EQ(trio::current_time(), at(1ns));
    co_await trio::sleep(std::chrono::duration<double, std::milli>(1.5));
    EXPECT_EQ(trio::current_time(), at(1ns + 1500us));
  });
}

TEST(Sleep, SleepersWakeInDeadlineOrder) {
  Sim sim;
  std::vector<std::pair<int, trio::TimePoint>> woke;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int s : {5, 3, 3}) {
        n.start_soon(
            [&](int secs) -> Task<> {
              co_await trio::sleep(std::chrono::seconds(secs));
              woke.emplace_back(secs, trio::current_time());
            },
            s);
      }
      co_return;
    });
  });
  ASSERT_EQ(woke.size(), 3u);
  EXPECT_EQ(woke[0], std::make_pair(3, at(3s)));
  EXPECT_EQ(woke[1], std::make_pair(3, at(3s)));
  EXPECT_EQ(woke[2], std::make_pair(5, at(5s)));
}

// ---- move_on / fail ---------------------------------------------------------------------------

TEST(MoveOn, MoveOnAfterZeroCancelsTheFirstCheckpoint) {
  Sim sim;
  sim.run([]() -> Task<> {
    bool reached = false;
    bool moved = co_await trio::move_on_after(0s, [&]() -> Task<> {
      co_await trio::checkpoint();
      reached = true;
    });
    EXPECT_TRUE(moved);
    EXPECT_FALSE(reached);
    // Trio's test_sleep: a move_on_at "now" cancels sleep(0).
    bool at_now = co_await trio::move_on_at(trio::current_time(), [&]() -> Task<> {
      EXPECT_TRUE(co_await raises_cancelled(trio::sleep(0s)));
    });
    EXPECT_FALSE(at_now);  // the body caught the Cancelled itself
  });
}

TEST(MoveOn, MovesOnAtTheDeadlineOrReturnsTheValue) {
  Sim sim;
  sim.run([]() -> Task<> {
    bool moved = co_await trio::move_on_after(3s, [&]() -> Task<> { co_await trio::sleep(100s); });
    EXPECT_TRUE(moved);
    EXPECT_EQ(trio::current_time(), at(3s));
    bool not_moved =
        co_await trio::move_on_after(3s, [&]() -> Task<> { co_await trio::sleep(1s); });
    EXPECT_FALSE(not_moved);
    std::optional<int> v = co_await trio::move_on_after(1s, [&]() -> Task<int> { co_return 7; });
    EXPECT_EQ(v, 7);
    std::optional<int> none = co_await trio::move_on_at(at(10s), [&]() -> Task<int> {
      co_await trio::sleep_forever();
      co_return 7;
    });
    EXPECT_FALSE(none.has_value());
    EXPECT_EQ(trio::current_time(), at(10s));
  });
}

TEST(MoveOn, SimultaneousDeadlinesOuterWins) {
  Sim sim;
  sim.run([]() -> Task<> {
    bool inner_returned = false;
    bool outer = co_await trio::move_on_after(1s, [&]() -> Task<> {
      inner_returned =
          co_await trio::move_on_after(1s, [&]() -> Task<> { co_await trio::sleep_forever(); });
      inner_returned = true;
    });
    EXPECT_TRUE(outer);
    EXPECT_FALSE(inner_returned);
  });
}

TEST(MoveOn, ShieldedTimeoutIgnoresOuterCancelButStillTimesOut) {
  Sim sim;
  sim.run([]() -> Task<> {
    CancelScope outer;
    bool moved = false;
    co_await outer.enter([&]() -> Task<> {
      outer.cancel();
      moved = co_await trio::move_on_after(1s, trio::kShield,
                                           [&]() -> Task<> { co_await trio::sleep_forever(); });
    });
    EXPECT_TRUE(moved);
    EXPECT_EQ(trio::current_time(), at(1s));
    EXPECT_FALSE(outer.cancelled_caught());
  });
}

TEST(MoveOn, ShieldedTimeoutScopeCanBeUnshielded) {
  Sim sim;
  sim.run([]() -> Task<> {
    CancelScope outer;
    co_await outer.enter([&]() -> Task<> {
      co_await trio::fail_after(1s, trio::kShield, [&](CancelScope& inner) -> Task<> {
        outer.cancel();
        EXPECT_FALSE(co_await raises_cancelled(trio::checkpoint()));
        inner.set_shield(false);
        EXPECT_TRUE(co_await raises_cancelled(trio::checkpoint()));
      });
    });
    EXPECT_EQ(trio::current_time(), at(0s));
  });
}

TEST(FailAfter, RaisesTooSlowErrorAtTheDeadline) {
  Sim sim;
  sim.run([]() -> Task<> {
    bool too_slow = false;
    try {
      co_await trio::fail_after(2s, [&]() -> Task<> { co_await trio::sleep(100s); });
    } catch (const trio::TooSlowError&) {
      too_slow = true;
    }
    EXPECT_TRUE(too_slow);
    EXPECT_EQ(trio::current_time(), at(2s));
    too_slow = false;
    try {
      co_await trio::fail_at(at(5s), [&]() -> Task<> { co_await trio::sleep(100s); });
    } catch (const trio::TooSlowError&) {
      too_slow = true;
    }
    EXPECT_TRUE(too_slow);
    EXPECT_EQ(trio::current_time(), at(5s));
    int v = co_await trio::fail_after(100s, [&]() -> Task<int> {
      co_await trio::sleep(0s);
      co_return 3;
    });
    EXPECT_EQ(v, 3);
    co_await trio::fail_at(trio::current_time() + 100s,
                           [&]() -> Task<> { co_await trio::sleep(0s); });
  });
}

TEST(FailAfter, FailsEvenIfShielded) {
  Sim sim;
  sim.run([]() -> Task<> {
    CancelScope outer;
    bool too_slow = false;
    co_await outer.enter([&]() -> Task<> {
      outer.cancel();
      try {
        co_await trio::fail_after(1s, trio::kShield,
                                  [&]() -> Task<> { co_await trio::sleep_forever(); });
      } catch (const trio::TooSlowError&) {
        too_slow = true;
      }
    });
    EXPECT_TRUE(too_slow);
    EXPECT_EQ(trio::current_time(), at(1s));
  });
}

TEST(FailAfter, OuterCancellationIsNotTooSlow) {
  Sim sim;
  sim.run([]() -> Task<> {
    CancelScope outer;
    bool too_slow = false;
    co_await outer.enter([&]() -> Task<> {
      try {
        co_await trio::fail_after(10s, [&]() -> Task<> {
          outer.cancel();
          co_await trio::sleep_forever();
        });
      } catch (const trio::TooSlowError&) {
        too_slow = true;
      }
    });
    EXPECT_FALSE(too_slow);
    EXPECT_TRUE(outer.cancelled_caught());
  });
}

TEST(Timeouts, BadTimeoutsAreValueErrors) {
  Sim sim;
  sim.run([]() -> Task<> {
    auto body = [&]() -> Task<> { co_return; };
    EXPECT_EQ(message_of<trio::ValueError>([&] { (void)trio::move_on_after(-1s, body); }),
              "`seconds` must be non-negative");
    EXPECT_EQ(message_of<trio::ValueError>(
                  [&] { (void)trio::fail_after(std::chrono::duration<double>(kNaN), body); }),
              "`seconds` must not be NaN");
    EXPECT_EQ(message_of<trio::ValueError>([] { (void)CancelScope::relative(-1s); }),
              "timeout must be non-negative");
    CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      EXPECT_EQ(message_of<trio::ValueError>([&] { scope.set_relative_deadline(-1s); }),
                "relative deadline must be non-negative");
      co_return;
    });
  });
}

// ---- deadlines of scopes ------------------------------------------------------------------------

// Trio's test_basic_timeout, first part: a deadline that passes after the scope exited is moot.
TEST(Deadline, PassingAfterExitDoesNotCancel) {
  Sim sim;
  sim.run([&]() -> Task<> {
    CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      EXPECT_EQ(scope.deadline(), trio::kInf);
      scope.set_deadline(trio::current_time() + 1s);
      EXPECT_EQ(scope.deadline(), at(1s));
      co_return;
    });
    sim.clock.jump(2s);
    for (int i = 0; i < 3; ++i) co_await trio::checkpoint();
    EXPECT_FALSE(scope.cancel_called());
  });
}

TEST(Deadline, MovedEarlierAfterEntry) {
  Sim sim;
  sim.run([&]() -> Task<> {
    const trio::TimePoint start = trio::current_time();
    CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      co_await trio::checkpoint();
      scope.set_deadline(start + 10s);
      co_await trio::checkpoint();
      sim.clock.jump(5s);
      EXPECT_FALSE(co_await raises_cancelled(trio::checkpoint()));
      scope.set_deadline(start + 1s);  // already past: the next checkpoints raise
      EXPECT_TRUE(co_await raises_cancelled(trio::checkpoint()));
      EXPECT_TRUE(co_await raises_cancelled(trio::checkpoint()));
    });
  });
}

TEST(Deadline, MovedWhileATaskIsBlocked) {
  struct Case {
    trio::Duration new_deadline;  // set at t = 1 s; the original deadline is 5 s
    trio::TimePoint expected_wake;
  };
  for (const Case& c : {Case{3s, at(3s)}, Case{20s, at(20s)}, Case{-5s, at(1s)}}) {
    SCOPED_TRACE(c.new_deadline.count());
    Sim sim;
    std::optional<trio::TimePoint> woke;
    sim.run([&]() -> Task<> {
      CancelScope scope(at(5s));
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([&]() -> Task<> {
          co_await scope.enter([&]() -> Task<> {
            try {
              co_await trio::sleep_forever();
            } catch (const trio::Cancelled&) {
              woke = trio::current_time();
              throw;
            }
          });
        });
        co_await trio::sleep(1s);
        scope.set_deadline(at(c.new_deadline));
      });
      EXPECT_TRUE(scope.cancelled_caught());
    });
    EXPECT_EQ(woke, c.expected_wake);
  }
}

TEST(Deadline, RemovedDeadlineNoLongerFires) {
  Sim sim;
  sim.run([&]() -> Task<> {
    CancelScope scope(at(5s));
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await scope.enter([&]() -> Task<> { co_await trio::sleep_forever(); });
      });
      co_await trio::sleep(1s);
      scope.set_deadline(trio::kInf);
      co_await trio::sleep(30s);
      EXPECT_FALSE(scope.cancel_called());
      scope.cancel();
    });
    EXPECT_EQ(trio::current_time(), at(31s));
  });
}

TEST(Deadline, CancelCalledGetterChecksTheDeadline) {
  Sim sim;
  sim.run([&]() -> Task<> {
    // Unentered (Trio's test_cancel_unbound, last part).
    CancelScope scope(trio::current_time() + 1s);
    EXPECT_FALSE(scope.cancel_called());
    scope.set_deadline(scope.deadline() - 1s);
    EXPECT_TRUE(scope.cancel_called());
    scope.set_deadline(scope.deadline() + 1s);
    EXPECT_TRUE(scope.cancel_called());  // never reverts
    // Entered: no checkpoint needed between the jump and the getter.
    CancelScope entered(trio::current_time() + 1s);
    co_await entered.enter([&]() -> Task<> {
      EXPECT_FALSE(entered.cancel_called());
      sim.clock.jump(1s);
      EXPECT_TRUE(entered.cancel_called());
      co_await trio::checkpoint();
    });
    EXPECT_TRUE(entered.cancelled_caught());
  });
}

TEST(Deadline, DeadlineAlreadyPastAtEntryCancelsImmediately) {
  Sim sim;
  sim.run([&]() -> Task<> {
    co_await trio::sleep(10s);
    CancelScope scope(at(5s));
    co_await scope.enter([&]() -> Task<> {
      EXPECT_TRUE(scope.cancel_called());  // before any checkpoint
      EXPECT_EQ(trio::current_effective_deadline(), trio::kNegInf);
      co_await trio::checkpoint();
    });
    EXPECT_TRUE(scope.cancelled_caught());
  });
}

TEST(Deadline, RelativeDeadlineIsComputedAtEntry) {
  Sim sim;
  sim.run([&]() -> Task<> {
    CancelScope scope = CancelScope::relative(5s);
    EXPECT_EQ(scope.relative_deadline(), 5s);
    EXPECT_EQ(scope.is_relative(), std::optional<bool>(true));
    scope.set_shield(true);
    sim.clock.jump(3s);
    const trio::TimePoint start = trio::current_time();
    co_await scope.enter([&]() -> Task<> {
      EXPECT_EQ(scope.deadline(), start + 5s);
      EXPECT_FALSE(scope.is_relative().has_value());
      EXPECT_TRUE(scope.shield());
      co_await trio::sleep(2s);
      EXPECT_EQ(scope.relative_deadline(), 3s);  // deadline - now
      scope.set_relative_deadline(10s);          // deadline = now + 10 s
      EXPECT_EQ(scope.deadline(), start + 12s);
      co_await trio::sleep_forever();
    });
    EXPECT_EQ(trio::current_time(), start + 12s);
    EXPECT_TRUE(scope.cancelled_caught());
    // move_on_after is relative too: its clock starts when its body starts.
    auto pending = trio::move_on_after(4s, [&]() -> Task<> { co_await trio::sleep_forever(); });
    sim.clock.jump(100s);
    const trio::TimePoint entered = trio::current_time();
    EXPECT_TRUE(co_await std::move(pending));
    EXPECT_EQ(trio::current_time(), entered + 4s);
  });
}

TEST(Deadline, UnenteredScopesRefuseTheOtherKindOfDeadline) {
  CancelScope relative = CancelScope::relative(5s);
  const char* kNoAbsolute = "Unentered relative cancel scope does not have an absolute deadline.";
  EXPECT_EQ(message_of<trio::RuntimeError>([&] { (void)relative.deadline(); }), kNoAbsolute);
  EXPECT_EQ(message_of<trio::RuntimeError>([&] { relative.set_deadline(trio::kInf); }),
            kNoAbsolute);
  CancelScope absolute(at(5s));
  EXPECT_EQ(absolute.is_relative(), std::optional<bool>(false));
  const char* kNoRelative = "Unentered non-relative cancel scope does not have a relative deadline";
  EXPECT_EQ(message_of<trio::RuntimeError>([&] { (void)absolute.relative_deadline(); }),
            kNoRelative);
  EXPECT_EQ(message_of<trio::RuntimeError>([&] { absolute.set_relative_deadline(1s); }),
            kNoRelative);
  // A scope with neither is both: absolute kInf, relative "forever".
  CancelScope neither;
  EXPECT_EQ(neither.deadline(), trio::kInf);
  neither.set_relative_deadline(2s);
  EXPECT_EQ(neither.relative_deadline(), 2s);
}

TEST(Deadline, InfiniteTimeoutNeverFires) {
  Sim sim;
  sim.run([&]() -> Task<> {
    bool moved = co_await trio::move_on_after(
        std::chrono::duration<double>(std::numeric_limits<double>::infinity()), [&]() -> Task<> {
          EXPECT_EQ(trio::current_effective_deadline(), trio::kInf);
          co_await trio::sleep(std::chrono::hours(24 * 365));
        });
    EXPECT_FALSE(moved);
    bool huge = co_await trio::move_on_after(std::chrono::hours::max(), [&]() -> Task<> {
      EXPECT_EQ(trio::current_effective_deadline(), trio::kInf);  // saturates, no overflow
      co_return;
    });
    EXPECT_FALSE(huge);
  });
}

// Trio's test_current_effective_deadline.
TEST(Deadline, CurrentEffectiveDeadlineFollowsShields) {
  Sim sim;
  sim.run([&]() -> Task<> {
    EXPECT_EQ(trio::current_effective_deadline(), trio::kInf);
    CancelScope scope1(at(5s)), scope2(at(10s));
    co_await scope1.enter([&]() -> Task<> {
      co_await scope2.enter([&]() -> Task<> {
        EXPECT_EQ(trio::current_effective_deadline(), at(5s));
        scope2.set_deadline(at(3s));
        EXPECT_EQ(trio::current_effective_deadline(), at(3s));
        scope2.set_deadline(at(10s));
        EXPECT_EQ(trio::current_effective_deadline(), at(5s));
        scope2.set_shield(true);
        EXPECT_EQ(trio::current_effective_deadline(), at(10s));
        scope2.set_shield(false);
        EXPECT_EQ(trio::current_effective_deadline(), at(5s));
        scope1.cancel();
        EXPECT_EQ(trio::current_effective_deadline(), trio::kNegInf);
        scope2.set_shield(true);
        EXPECT_EQ(trio::current_effective_deadline(), at(10s));
        co_return;
      });
      EXPECT_EQ(trio::current_effective_deadline(), trio::kNegInf);
      co_await trio::cancel_shielded_checkpoint();
    });
    EXPECT_EQ(trio::current_effective_deadline(), trio::kInf);
  });
}
