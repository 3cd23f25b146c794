// SPDX-License-Identifier: Apache-2.0 OR MIT
// CancelScope (spec §2.2–2.4; the cancel-scope tests of Trio's test_run.py, rewritten): which
// scope catches a Cancelled (the outermost cancelled one, decided when it exits), level-triggered
// delivery, shields raised and lowered at any time with immediate effect — also for tasks that
// are already blocked —, cancelling before entry and from other tasks, single use, the
// cancelled_caught rules, value-returning bodies, and 5000-deep nesting through recursive
// coroutines. Every run uses an autojump MockClock, so the virtual time at which a blocked task
// woke shows whether a shield or a cancel took effect at once.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
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

// One simulated run: an autojump MockClock (virtual time starts at 0, jumps whenever every task
// is blocked) and, when the test ends, the check that every coroutine frame was freed.
class Sim {
 public:
  explicit Sim(uint64_t seed = 1) : seed_(seed) { clock.set_autojump_threshold(0s); }
  ~Sim() { EXPECT_EQ(trio::lowlevel::live_frames(), 0) << "a coroutine frame leaked"; }
  template <class F>
  auto run(F main) {
    return trio::run(trio::RunOptions{.clock = &clock, .seed = seed_}, std::move(main));
  }
  trio::MockClock clock;

 private:
  uint64_t seed_;
};

// Awaits `aw`; true if it raised Cancelled, false if it completed. Other errors propagate.
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

}  // namespace

static_assert(!std::is_copy_constructible_v<CancelScope>);
static_assert(!std::is_base_of_v<std::exception, trio::Cancelled>,
              "Cancelled must not be caught by catch (const std::exception&)");

TEST(CancelScope, OuterScopeCatchesWhenBothCancelled) {
  Sim sim;
  CancelScope scope1, scope2, scope3;
  bool after_sleep = false, after_scope3 = false, after_scope2 = false;
  sim.run([&]() -> Task<> {
    co_await scope1.enter([&]() -> Task<> {
      co_await scope2.enter([&]() -> Task<> {
        co_await scope3.enter([&]() -> Task<> {
          scope3.cancel();
          scope2.cancel();
          co_await trio::sleep_forever();
          after_sleep = true;
        });
        after_scope3 = true;  // scope3 must let the Cancelled through: scope2 owns it
      });
      after_scope2 = true;
    });
  });
  EXPECT_FALSE(after_sleep);
  EXPECT_FALSE(after_scope3);
  EXPECT_TRUE(after_scope2);
  EXPECT_TRUE(scope3.cancel_called());
  EXPECT_FALSE(scope3.cancelled_caught());
  EXPECT_TRUE(scope2.cancel_called());
  EXPECT_TRUE(scope2.cancelled_caught());
  EXPECT_FALSE(scope1.cancel_called());
  EXPECT_FALSE(scope1.cancelled_caught());
}

TEST(CancelScope, InnerScopeCatchesWhenOnlyItIsCancelled) {
  Sim sim;
  CancelScope outer, inner;
  sim.run([&]() -> Task<> {
    co_await outer.enter([&]() -> Task<> {
      co_await inner.enter([&]() -> Task<> {
        inner.cancel();
        co_await trio::checkpoint();
      });
      EXPECT_FALSE(co_await raises_cancelled(trio::checkpoint()));
    });
  });
  EXPECT_TRUE(inner.cancelled_caught());
  EXPECT_FALSE(outer.cancel_called());
  EXPECT_FALSE(outer.cancelled_caught());
}

TEST(CancelScope, CancellationIsLevelTriggered) {
  Sim sim;
  CancelScope scope;
  int raised = 0;
  sim.run([&]() -> Task<> {
    co_await scope.enter([&]() -> Task<> {
      scope.cancel();
      // Every cancel point raises again; there is nothing to "consume".
      for (int i = 0; i < 3; ++i) raised += co_await raises_cancelled(trio::checkpoint());
      raised += co_await raises_cancelled(trio::sleep(1s));
      raised += co_await raises_cancelled(trio::checkpoint_if_cancelled());
      raised += co_await raises_cancelled(trio::sleep_forever());
    });
    EXPECT_EQ(trio::current_time(), at(0s));
  });
  EXPECT_EQ(raised, 6);
  EXPECT_FALSE(scope.cancelled_caught());  // every Cancelled was caught inside the body
}

TEST(CancelScope, CancelledIsNotCaughtByStdExceptionHandlers) {
  Sim sim;
  CancelScope scope;
  bool std_handler_ran = false;
  sim.run([&]() -> Task<> {
    co_await scope.enter([&]() -> Task<> {
      scope.cancel();
      try {
        co_await trio::checkpoint();
      } catch (const std::exception&) {
        std_handler_ran = true;
      }
    });
  });
  EXPECT_FALSE(std_handler_ran);
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST(CancelScope, ShieldHidesOuterCancellationButNotInnerScopesOrItself) {
  Sim sim;
  CancelScope outer, inner;
  sim.run([&]() -> Task<> {
    co_await outer.enter([&]() -> Task<> {
      co_await inner.enter([&]() -> Task<> {
        co_await trio::checkpoint();
        outer.cancel();
        EXPECT_TRUE(co_await raises_cancelled(trio::checkpoint()));
        EXPECT_FALSE(inner.shield());
        inner.set_shield(true);
        EXPECT_TRUE(inner.shield());
        EXPECT_FALSE(co_await raises_cancelled(trio::checkpoint()));  // protected from outer
        CancelScope innermost;
        co_await innermost.enter([&]() -> Task<> {
          innermost.cancel();
          // ...but not from a scope inside the shield.
          EXPECT_TRUE(co_await raises_cancelled(trio::checkpoint()));
        });
        EXPECT_FALSE(co_await raises_cancelled(trio::checkpoint()));
        inner.set_shield(false);  // lowering it exposes outer again
        EXPECT_TRUE(co_await raises_cancelled(trio::checkpoint()));
        inner.set_shield(true);
        EXPECT_FALSE(co_await raises_cancelled(trio::checkpoint()));
        inner.cancel();  // a shield never protects from its own scope
        co_await trio::checkpoint();
        ADD_FAILURE() << "the checkpoint after inner.cancel() did not raise";
      });
    });
  });
  EXPECT_TRUE(inner.cancelled_caught());
  EXPECT_FALSE(outer.cancelled_caught());
}

// A task blocked inside a shielded scope stays asleep when an outer scope is cancelled, and is
// woken at once — no virtual time passes — when the shield is lowered.
TEST(CancelScope, LoweringShieldWakesBlockedTaskImmediately) {
  Sim sim;
  CancelScope outer;
  CancelScope inner(trio::kInf, /*shield=*/true);
  std::optional<trio::TimePoint> woke_at;
  bool saw_cancelled = false;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await outer.enter([&]() -> Task<> {
          co_await inner.enter([&]() -> Task<> {
            saw_cancelled = co_await raises_cancelled(trio::sleep(100s));
            woke_at = trio::current_time();
          });
        });
      });
      co_await trio::sleep(1s);
      outer.cancel();
      co_await trio::sleep(1s);
      EXPECT_FALSE(woke_at.has_value()) << "the shield did not protect the sleeping task";
      inner.set_shield(false);
      co_return;
    });
  });
  EXPECT_TRUE(saw_cancelled);
  EXPECT_EQ(woke_at, at(2s));
}

// Raising the shield of a blocked task's scope before the outer cancel keeps it asleep until its
// own wake-up time; the outer cancellation reaches it only after it leaves the shield.
TEST(CancelScope, RaisingShieldWhileBlockedKeepsTaskAsleep) {
  Sim sim;
  CancelScope outer, inner;
  std::optional<trio::TimePoint> woke_at;
  bool cancelled_inside_shield = false;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await outer.enter([&]() -> Task<> {
          co_await inner.enter([&]() -> Task<> {
            cancelled_inside_shield = co_await raises_cancelled(trio::sleep(10s));
            woke_at = trio::current_time();
            cancelled_inside_shield |= co_await raises_cancelled(trio::checkpoint());
          });
          co_await trio::checkpoint();  // outside the shield: raises, caught by outer
          ADD_FAILURE() << "the checkpoint after leaving the shield did not raise";
        });
      });
      co_await trio::sleep(1s);
      inner.set_shield(true);
      outer.cancel();
      co_return;
    });
  });
  EXPECT_FALSE(cancelled_inside_shield);
  EXPECT_EQ(woke_at, at(10s));
  EXPECT_FALSE(inner.cancelled_caught());
  EXPECT_TRUE(outer.cancelled_caught());
}

// Trio's test_cancel_shield_abort: the nursery's own scope as the shield.
TEST(CancelScope, UnshieldingNurseryScopeAbortsSleepingChild) {
  Sim sim;
  CancelScope outer;
  std::vector<std::string> record;
  sim.run([&]() -> Task<> {
    co_await outer.enter([&]() -> Task<> {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        outer.cancel();
        n.cancel_scope().set_shield(true);
        n.start_soon([&]() -> Task<> {
          record.push_back("sleeping");
          if (co_await raises_cancelled(trio::sleep_forever())) record.push_back("cancelled");
        });
        co_await trio::lowlevel::wait_all_tasks_blocked();
        EXPECT_EQ(record, std::vector<std::string>{"sleeping"});
        n.cancel_scope().set_shield(false);
        // Look before the nursery exit, which would cancel the child anyway.
        CancelScope shielded(trio::kInf, /*shield=*/true);
        co_await shielded.enter([&]() -> Task<> {
          co_await trio::lowlevel::wait_all_tasks_blocked();
          EXPECT_EQ(record, (std::vector<std::string>{"sleeping", "cancelled"}));
        });
      });
    });
  });
  EXPECT_EQ(record.size(), 2u);
}

// Trio #1175: a shield raised while a Cancelled propagates does not let the inner scope steal it.
TEST(CancelScope, ShieldRaisedWhileCancelledPropagatesDoesNotStealIt) {
  Sim sim;
  CancelScope outer, inner;
  sim.run([&]() -> Task<> {
    co_await outer.enter([&]() -> Task<> {
      co_await inner.enter([&]() -> Task<> {
        outer.cancel();
        try {
          co_await trio::checkpoint();
        } catch (const trio::Cancelled&) {
          inner.set_shield(true);
          throw;
        }
      });
    });
  });
  EXPECT_TRUE(outer.cancelled_caught());
  EXPECT_FALSE(inner.cancelled_caught());
}

// A cancellation that arrives after the last cancel point is never delivered: cancel_called is
// true, cancelled_caught false, and the code after the scope is unaffected.
TEST(CancelScope, CancelledCaughtFalseWhenCancelArrivesAfterLastCheckpoint) {
  Sim sim;
  CancelScope scope;
  sim.run([&]() -> Task<> {
    co_await scope.enter([&]() -> Task<> {
      scope.cancel();
      co_await trio::cancel_shielded_checkpoint();
    });
    EXPECT_FALSE(co_await raises_cancelled(trio::checkpoint()));
  });
  EXPECT_TRUE(scope.cancel_called());
  EXPECT_FALSE(scope.cancelled_caught());
}

TEST(CancelScope, CancelBeforeEntryCancelsFirstCheckpoint) {
  Sim sim;
  CancelScope scope;
  scope.cancel();  // allowed outside a run, before entry
  bool too_slow = false;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        try {
          co_await scope.enter([&]() -> Task<> {
            co_await trio::fail_after(1s, [&]() -> Task<> { co_await trio::sleep_forever(); });
          });
        } catch (const trio::TooSlowError&) {
          too_slow = true;
        }
      });
      co_return;
    });
    EXPECT_EQ(trio::current_time(), at(0s));
  });
  EXPECT_FALSE(too_slow);  // the outer scope's cancel, not fail_after's deadline
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST(CancelScope, CancelFromAnotherTaskWakesBlockedTask) {
  Sim sim;
  CancelScope scope;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await scope.enter([&]() -> Task<> { co_await trio::sleep_forever(); });
      });
      co_await trio::sleep(3s);
      scope.cancel();
    });
    EXPECT_EQ(trio::current_time(), at(3s));
  });
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST(CancelScope, ShieldSetBeforeEntry) {
  Sim sim;
  CancelScope outer, scope;
  scope.set_shield(true);
  sim.run([&]() -> Task<> {
    co_await outer.enter([&]() -> Task<> {
      co_await scope.enter([&]() -> Task<> {
        outer.cancel();
        EXPECT_FALSE(co_await raises_cancelled(trio::checkpoint()));
        scope.set_shield(false);
        EXPECT_TRUE(co_await raises_cancelled(trio::checkpoint()));
      });
    });
  });
  EXPECT_FALSE(scope.cancelled_caught());
}

TEST(CancelScope, ScopeCannotBeReusedAfterExit) {
  Sim sim;
  CancelScope scope;
  std::string error;
  sim.run([&]() -> Task<> {
    co_await scope.enter([&]() -> Task<> { co_await trio::checkpoint(); });
    scope.cancel();  // a no-op on an exited scope
    EXPECT_FALSE(co_await raises_cancelled(trio::checkpoint()));
    try {
      co_await scope.enter([&]() -> Task<> { co_return; });
    } catch (const trio::RuntimeError& e) {
      error = e.what();
    }
  });
  EXPECT_TRUE(scope.cancel_called());
  EXPECT_FALSE(scope.cancelled_caught());
  EXPECT_EQ(error, "Each CancelScope may only be used for a single 'with' block");
}

TEST(CancelScope, ScopeCannotBeReenteredWhileEntered) {
  Sim sim;
  CancelScope scope;
  bool inner_body_ran = false;
  std::string error;
  sim.run([&]() -> Task<> {
    co_await scope.enter([&]() -> Task<> {
      try {
        co_await scope.enter([&]() -> Task<> {
          inner_body_ran = true;
          co_return;
        });
      } catch (const trio::RuntimeError& e) {
        error = e.what();
      }
      co_await trio::checkpoint();
    });
  });
  EXPECT_FALSE(inner_body_ran);
  EXPECT_EQ(error, "Each CancelScope may only be used for a single 'with' block");
}

TEST(CancelScope, ScopeCannotBeEnteredByTwoTasks) {
  Sim sim;
  CancelScope scope;
  std::string error;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("this one"), [&]() -> Task<> {
        co_await scope.enter([&]() -> Task<> { co_await trio::sleep_forever(); });
      });
      co_await trio::lowlevel::wait_all_tasks_blocked();
      try {
        co_await scope.enter([&]() -> Task<> { co_return; });
      } catch (const trio::RuntimeError& e) {
        error = e.what();
      }
      n.cancel_scope().cancel();
    });
  });
  EXPECT_EQ(error, "Each CancelScope may only be used for a single 'with' block");
  EXPECT_FALSE(scope.cancelled_caught());  // the nursery's cancellation, not the scope's
}

TEST(CancelScope, EnteredScopeCannotBeMoved) {
  Sim sim;
  CancelScope scope;
  CancelScope moved_before_entry(std::move(scope));  // unentered: fine
  std::string error;
  sim.run([&]() -> Task<> {
    co_await moved_before_entry.enter([&]() -> Task<> {
      try {
        CancelScope stolen(std::move(moved_before_entry));
      } catch (const trio::RuntimeError& e) {
        error = e.what();
      }
      co_return;
    });
  });
  EXPECT_EQ(error, "a CancelScope cannot be moved once it has been entered");
}

TEST(CancelScope, OtherExceptionsPassThroughCancelledScope) {
  Sim sim;
  CancelScope scope;
  std::string error;
  try {
    sim.run([&]() -> Task<> {
      co_await scope.enter([&]() -> Task<> {
        scope.cancel();
        co_await trio::cancel_shielded_checkpoint();
        throw std::runtime_error("not a cancellation");
      });
    });
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  EXPECT_EQ(error, "not a cancellation");
  EXPECT_TRUE(scope.cancel_called());
  EXPECT_FALSE(scope.cancelled_caught());
}

// Trio's test_cancel_scope_no_cancellederror: a group without Cancelled is not the scope's.
TEST(CancelScope, GroupWithoutCancelledLeavesCancelledCaughtFalse) {
  Sim sim;
  CancelScope scope;
  size_t group_size = 0;
  try {
    sim.run([&]() -> Task<> {
      co_await scope.enter([&]() -> Task<> {
        scope.cancel();
        co_await trio::cancel_shielded_checkpoint();
        std::rethrow_exception(
            trio::make_exception_group("test", {std::make_exception_ptr(std::runtime_error("a")),
                                                std::make_exception_ptr(std::runtime_error("b"))}));
      });
    });
  } catch (const trio::ExceptionGroup& g) {
    group_size = g.size();
  }
  EXPECT_EQ(group_size, 2u);
  EXPECT_FALSE(scope.cancelled_caught());
}

// A cancelled scope strips the Cancelleds it owns out of a group and lets the rest through.
TEST(CancelScope, ScopeSplitsItsCancelledsOutOfAGroup) {
  Sim sim;
  CancelScope scope;
  std::vector<std::string> leaves;
  try {
    sim.run([&]() -> Task<> {
      co_await scope.enter([&]() -> Task<> {
        co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
          n.start_soon([]() -> Task<> { co_await trio::sleep_forever(); });
          n.start_soon([]() -> Task<> {
            try {
              co_await trio::sleep_forever();
            } catch (const trio::Cancelled&) {
              throw std::runtime_error("cleanup failed");
            }
          });
          co_await trio::lowlevel::wait_all_tasks_blocked();
          scope.cancel();  // the nursery's scope is not cancelled itself: it keeps the Cancelleds
        });
      });
    });
  } catch (const trio::BaseExceptionGroup& g) {
    for (const auto& e : g.leaves()) leaves.push_back(trio::describe(e));
  }
  EXPECT_EQ(leaves, std::vector<std::string>{"cleanup failed"});
  EXPECT_TRUE(scope.cancelled_caught());
}

TEST(CancelScope, BodyValueIsReturnedOrNulloptWhenCaught) {
  Sim sim;
  sim.run([&]() -> Task<> {
    CancelScope fine, cancelled;
    std::optional<int> v = co_await fine.enter([&]() -> Task<int> { co_return 5; });
    EXPECT_EQ(v, 5);
    std::optional<std::string> w = co_await cancelled.enter([&]() -> Task<std::string> {
      cancelled.cancel();
      co_await trio::checkpoint();
      co_return "unreachable";
    });
    EXPECT_FALSE(w.has_value());
    EXPECT_TRUE(cancelled.cancelled_caught());
  });
}

// ---- 5000-deep nesting (Trio's test_very_deep_cancel_scope_nesting) ----------------------

constexpr int kDeepNesting = 5000;

struct DeepState {
  std::vector<CancelScope*> scopes;  // outermost first; valid while entered
  int caught = 0;                    // how many scopes reported cancelled_caught
  std::function<Task<>()> innermost;
};

// Enters `depth` nested scopes, one per recursive coroutine, and runs state->innermost inside.
Task<> nest_scopes(int depth, DeepState* state) {
  CancelScope scope;
  state->scopes.push_back(&scope);
  std::exception_ptr error;
  try {
    co_await scope.enter([&]() -> Task<> {
      if (depth == 1)
        co_await state->innermost();
      else
        co_await nest_scopes(depth - 1, state);
    });
  } catch (...) {
    error = std::current_exception();
  }
  state->scopes.pop_back();
  if (scope.cancelled_caught()) ++state->caught;
  if (error) std::rethrow_exception(error);
}

TEST(CancelScope, VeryDeepNestingCancelOutermostThenCheckpoint) {
  Sim sim;
  DeepState state;
  bool reached = false;
  state.innermost = [&]() -> Task<> {
    EXPECT_EQ(state.scopes.size(), static_cast<size_t>(kDeepNesting));
    state.scopes.front()->cancel();
    co_await trio::checkpoint();
    reached = true;
  };
  sim.run([&]() -> Task<> { co_await nest_scopes(kDeepNesting, &state); });
  EXPECT_FALSE(reached);
  EXPECT_EQ(state.caught, 1);  // only the outermost
}

TEST(CancelScope, VeryDeepNestingCancelReachesBlockedTaskThroughShieldToggle) {
  Sim sim;
  DeepState state;
  std::optional<trio::TimePoint> woke_at;
  state.innermost = [&]() -> Task<> {
    try {
      co_await trio::sleep_forever();
    } catch (const trio::Cancelled&) {
      woke_at = trio::current_time();
      throw;
    }
  };
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> { co_await nest_scopes(kDeepNesting, &state); });
      co_await trio::sleep(1s);
      CancelScope* middle = state.scopes[kDeepNesting / 2];
      middle->set_shield(true);
      state.scopes.front()->cancel();  // recalculates 2500 levels, stops at the shield
      co_await trio::sleep(1s);
      EXPECT_FALSE(woke_at.has_value());
      middle->set_shield(false);  // recalculates the other 2500: the sleeper wakes now
    });
  });
  EXPECT_EQ(woke_at, at(2s));
  EXPECT_EQ(state.caught, 1);
}

// ---- descriptions: kind, name, and the file:line that created the scope ----------------------

namespace {

std::string innermost_scope() {
  return trio::lowlevel::enclosing_scopes(trio::lowlevel::current_task()).front()->description();
}
std::string at_line(const char* kind, int line) {
  return std::string(kind) + " at runtime/cancel_scope_test.cc:" + std::to_string(line);
}

}  // namespace

TEST(CancelScope, DescribesItsKindNameAndTheLineThatCreatedIt) {
  Sim sim;
  sim.run([]() -> Task<> {
    CancelScope plain;
    const int plain_line = __LINE__ - 1;
    EXPECT_EQ(plain.kind(), trio::ScopeKind::kCancelScope);
    EXPECT_EQ(plain.description(), at_line("CancelScope", plain_line));
    plain.set_name("mine");
    EXPECT_STREQ(plain.name(), "mine");
    EXPECT_EQ(plain.description(), at_line("CancelScope \"mine\"", plain_line));

    CancelScope relative = CancelScope::relative(1s);  // moved out of relative(): site kept
    EXPECT_EQ(relative.description(), at_line("CancelScope", __LINE__ - 1));
    CancelScope absolute(trio::current_time() + 1s);
    EXPECT_EQ(absolute.description(), at_line("CancelScope", __LINE__ - 1));

    std::string seen;
    int line = __LINE__ + 1;
    co_await trio::move_on_after(1s, [&]() -> Task<> {
      seen = innermost_scope();
      co_return;
    });
    EXPECT_EQ(seen, at_line("move_on_after", line));
    line = __LINE__ + 1;
    co_await trio::move_on_at(trio::current_time() + 1s, trio::kShield, [&]() -> Task<> {
      seen = innermost_scope();
      co_return;
    });
    EXPECT_EQ(seen, at_line("move_on_at", line));
    line = __LINE__ + 1;
    co_await trio::fail_after(1s, [&](CancelScope& scope) -> Task<> {
      scope.set_name("rpc");
      seen = innermost_scope();
      co_return;
    });
    EXPECT_EQ(seen, at_line("fail_after \"rpc\"", line));
    line = __LINE__ + 1;
    co_await trio::fail_at(trio::current_time() + 1s, [&]() -> Task<> {
      seen = innermost_scope();
      co_return;
    });
    EXPECT_EQ(seen, at_line("fail_at", line));
    line = __LINE__ + 1;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      EXPECT_EQ(n.cancel_scope().kind(), trio::ScopeKind::kNursery);
      seen = innermost_scope();
      co_return;
    });
    EXPECT_EQ(seen, at_line("nursery", line));

    const auto scopes = trio::lowlevel::enclosing_scopes(trio::lowlevel::current_task());
    EXPECT_EQ(scopes.back()->kind(), trio::ScopeKind::kSystemNursery);
    EXPECT_EQ(scopes.back()->description(), "the system nursery");
  });
}
