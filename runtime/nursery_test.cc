// SPDX-License-Identifier: Apache-2.0 OR MIT
// Nurseries (spec §2.6, §2.8; the nursery tests of Trio's test_run.py, rewritten): a child's crash
// cancels its siblings and the body, and the group holds only the crash; several errors arrive in
// order; children inherit the nursery's cancel scope, not the spawner's; a task spawned into a
// cancelled nursery runs to its first checkpoint; an outer cancellation keeps the Cancelleds in
// the group until the outer scope strips them; the exit is a schedule point but never a cancel
// point; the nursery closes only when empty, then refuses new children; start_soon keeps a
// lambda's by-value captures and its (even move-only) arguments alive; and the task tree can be
// inspected. Crash tests run under several seeds, so both batch orders of the coin flip occur.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::CancelScope;
using trio::Nursery;
using trio::Task;
using trio::lowlevel::TaskRecord;

namespace {

trio::TimePoint at(trio::Duration d) { return trio::TimePoint(d); }

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

// Runs `fn` and returns the leaves of the group it raised, described (empty if none).
template <class F>
std::vector<std::string> group_leaves(F&& fn, std::string* message = nullptr) {
  std::vector<std::string> out;
  try {
    fn();
  } catch (const trio::BaseExceptionGroup& g) {
    if (message) *message = g.message();
    for (const auto& e : g.leaves()) out.push_back(trio::describe(e));
  }
  return out;
}

std::vector<std::string> strings(std::initializer_list<const char*> s) {
  return {s.begin(), s.end()};
}

}  // namespace

// ---- failures ---------------------------------------------------------------------------

TEST(Nursery, ChildCrashCancelsSiblingsAndGroupHoldsOnlyTheCrash) {
  for (uint64_t seed = 0; seed < 6; ++seed) {
    SCOPED_TRACE(seed);
    Sim sim(seed);
    std::vector<std::string> cancelled;
    std::string message;
    std::vector<std::string> sources;
    try {
      sim.run([&]() -> Task<> {
        co_await trio::open_nursery([&](Nursery& n) -> Task<> {
          for (const char* name : {"sibling1", "sibling2"}) {
            n.start_soon(trio::TaskName(name), [&]() -> Task<> {
              if (co_await raises_cancelled(trio::sleep_forever()))
                cancelled.push_back(trio::lowlevel::current_task().name());
            });
          }
          n.start_soon(trio::TaskName("crasher"), []() -> Task<> {
            co_await trio::sleep(1s);
            throw std::runtime_error("boom");
          });
          if (co_await raises_cancelled(trio::sleep_forever())) cancelled.push_back("body");
        });
      });
    } catch (const trio::ExceptionGroup& g) {  // all members are std::exceptions
      message = g.message();
      sources = g.source_tasks();
      for (const auto& e : g.exceptions()) cancelled.push_back("member: " + trio::describe(e));
    }
    EXPECT_EQ(message, "Exceptions from Trio nursery");
    EXPECT_EQ(sources, strings({"crasher"}));
    ASSERT_EQ(cancelled.size(), 4u);
    EXPECT_EQ(cancelled.back(), "member: boom");
    std::sort(cancelled.begin(), cancelled.end() - 1);
    EXPECT_EQ(cancelled, strings({"body", "sibling1", "sibling2", "member: boom"}));
    EXPECT_EQ(sim.clock.current_time(), at(1s));
  }
}

TEST(Nursery, TwoCrashesArriveInOrder) {
  for (uint64_t seed = 0; seed < 4; ++seed) {
    SCOPED_TRACE(seed);
    Sim sim(seed);
    auto leaves = group_leaves([&] {
      sim.run([]() -> Task<> {
        co_await trio::open_nursery([&](Nursery& n) -> Task<> {
          n.start_soon([]() -> Task<> {
            try {
              co_await trio::sleep_forever();
            } catch (const trio::Cancelled&) {
              throw std::runtime_error("second");
            }
          });
          n.start_soon([]() -> Task<> {
            co_await trio::sleep(1s);
            throw std::runtime_error("first");  // the siblings are cancelled...
          });
          n.start_soon([]() -> Task<> {
            try {
              co_await trio::sleep_forever();
            } catch (const trio::Cancelled&) {
              throw std::runtime_error("third");  // ...and may fail while handling it
            }
          });
          co_return;
        });
      });
    });
    ASSERT_EQ(leaves.size(), 3u);
    EXPECT_EQ(leaves[0], "first");  // the others arrive in the next batch, in either order
    std::sort(leaves.begin(), leaves.end());
    EXPECT_EQ(leaves, strings({"first", "second", "third"}));
  }
}

// Trio's test_main_and_task_both_crash: the body's error arrives first (at the start of the
// exit), the child's when it runs.
TEST(Nursery, BodyAndChildBothCrash) {
  Sim sim;
  auto leaves = group_leaves([&] {
    sim.run([]() -> Task<> {
      co_await trio::open_nursery([&](Nursery& n) -> Task<> {
        n.start_soon([]() -> Task<> {
          throw std::runtime_error("child");
          co_return;
        });
        throw std::logic_error("body");
        co_return;
      });
    });
  });
  EXPECT_EQ(leaves, strings({"body", "child"}));
}

TEST(Nursery, BodyErrorCancelsChildren) {
  Sim sim;
  bool child_cancelled = false;
  auto leaves = group_leaves([&] {
    sim.run([&]() -> Task<> {
      co_await trio::open_nursery([&](Nursery& n) -> Task<> {
        n.start_soon(
            [&]() -> Task<> { child_cancelled = co_await raises_cancelled(trio::sleep(10s)); });
        co_await trio::sleep(1s);
        throw std::runtime_error("body failed");
      });
    });
  });
  EXPECT_TRUE(child_cancelled);
  EXPECT_EQ(leaves, strings({"body failed"}));
  EXPECT_EQ(sim.clock.current_time(), at(1s));
}

TEST(Nursery, ErrorsInNestedNurseriesNestGroups) {
  Sim sim;
  std::exception_ptr error;
  try {
    sim.run([]() -> Task<> {
      co_await trio::open_nursery([&](Nursery& outer) -> Task<> {
        outer.start_soon([]() -> Task<> {
          co_await trio::open_nursery([&](Nursery& inner) -> Task<> {
            inner.start_soon([]() -> Task<> {
              co_await trio::checkpoint();
              throw std::runtime_error("deep");
            });
            co_return;
          });
        });
        co_return;
      });
    });
  } catch (...) {
    error = std::current_exception();
  }
  ASSERT_TRUE(trio::holds<trio::ExceptionGroup>(error));
  try {
    std::rethrow_exception(error);
  } catch (const trio::ExceptionGroup& g) {
    ASSERT_EQ(g.size(), 1u);
    EXPECT_TRUE(trio::holds<trio::ExceptionGroup>(g.exceptions()[0]));
    EXPECT_EQ(trio::describe(g.leaves().at(0)), "deep");
  }
}

// Trio's test_cancel_scope_exceptiongroup_filtering: while an outer scope is cancelled too, the
// nursery keeps the Cancelleds in its group; the outer scope strips them and passes the rest on.
TEST(Nursery, OuterCancelKeepsCancelledsUntilTheOuterScope) {
  Sim sim;
  CancelScope outer;
  size_t inner_cancelleds = 0;
  std::vector<std::string> inner_others;
  auto outside = group_leaves([&] {
    sim.run([&]() -> Task<> {
      co_await outer.enter([&]() -> Task<> {
        try {
          co_await trio::open_nursery([&](Nursery& n) -> Task<> {
            n.start_soon([]() -> Task<> { co_await trio::sleep_forever(); });
            n.start_soon([]() -> Task<> { co_await trio::sleep_forever(); });
            n.cancel_scope().cancel();
            CancelScope shielded(trio::kInf, /*shield=*/true);
            co_await shielded.enter(
                [&]() -> Task<> { co_await trio::lowlevel::wait_all_tasks_blocked(); });
            n.start_soon([]() -> Task<> { co_await trio::sleep_forever(); });
            outer.cancel();
            n.start_soon([]() -> Task<> {
              throw std::runtime_error("crash");
              co_return;
            });
            co_return;
          });
        } catch (const trio::BaseExceptionGroup& g) {
          for (const auto& e : g.leaves()) {
            if (trio::holds<trio::Cancelled>(e))
              ++inner_cancelleds;
            else
              inner_others.push_back(trio::describe(e));
          }
          throw;
        }
      });
    });
  });
  EXPECT_EQ(inner_cancelleds, 3u);
  EXPECT_EQ(inner_others, strings({"crash"}));
  EXPECT_EQ(outside, strings({"crash"}));
  EXPECT_TRUE(outer.cancelled_caught());
}

// ---- cancellation -------------------------------------------------------------------------

TEST(Nursery, TaskSpawnedIntoCancelledNurseryRunsToItsFirstCheckpoint) {
  Sim sim;
  std::vector<std::string> record;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      n.cancel_scope().cancel();
      n.start_soon([&]() -> Task<> {
        record.push_back("started");
        co_await trio::checkpoint_if_cancelled();  // the first cancel point raises
        record.push_back("unreachable");
      });
      co_return;
    });
  });
  EXPECT_EQ(record, strings({"started"}));
}

// Trio's test_cancel_inheritance: cancelling a nursery reaches grandchildren at once.
TEST(Nursery, CancelReachesEveryDescendantImmediately) {
  Sim sim;
  std::vector<std::string> record;
  sim.run([&]() -> Task<> {
    auto leaf = [&](std::string id) -> Task<> {
      if (co_await raises_cancelled(trio::sleep_forever())) record.push_back(id);
    };
    auto worker = [&](std::string id) -> Task<> {
      co_await trio::open_nursery([&](Nursery& n) -> Task<> {
        n.start_soon(leaf, id + "-l1");
        n.start_soon(leaf, id + "-l2");
        co_return;
      });
    };
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      n.start_soon(worker, std::string("w1"));
      n.start_soon(worker, std::string("w2"));
      co_await trio::lowlevel::wait_all_tasks_blocked();
      n.cancel_scope().cancel();
    });
    EXPECT_EQ(trio::current_time(), at(0s));
  });
  std::sort(record.begin(), record.end());
  EXPECT_EQ(record, strings({"w1-l1", "w1-l2", "w2-l1", "w2-l2"}));
}

TEST(Nursery, ChildrenInheritTheNurseryScopeNotTheSpawners) {
  Sim sim;
  bool child_cancelled = true;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      bool moved = co_await trio::move_on_after(1s, [&]() -> Task<> {
        n.start_soon(
            [&]() -> Task<> { child_cancelled = co_await raises_cancelled(trio::sleep(5s)); });
        co_await trio::sleep(2s);
      });
      EXPECT_TRUE(moved);
    });
    EXPECT_EQ(trio::current_time(), at(5s));
  });
  EXPECT_FALSE(child_cancelled);
}

TEST(Nursery, CancellingTheNurseryScopeIsSwallowedByIt) {
  Sim sim;
  sim.run([&]() -> Task<> {
    bool caught = false;
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      n.start_soon([]() -> Task<> { co_await trio::sleep_forever(); });
      co_await trio::sleep(1s);
      n.cancel_scope().cancel();
      caught = co_await raises_cancelled(trio::sleep_forever());
    });
    EXPECT_TRUE(caught);
    EXPECT_EQ(trio::current_time(), at(1s));  // and open_nursery raised nothing
  });
}

// The exit waits for the children and cannot be cancelled itself (since Trio 0.23).
TEST(Nursery, ExitWaitIsNotACancelPoint) {
  Sim sim;
  sim.run([&]() -> Task<> {
    CancelScope outer;
    bool child_done = false;
    co_await outer.enter([&]() -> Task<> {
      co_await trio::open_nursery([&](Nursery& n) -> Task<> {
        n.start_soon([&]() -> Task<> {
          CancelScope shield(trio::kInf, /*shield=*/true);
          co_await shield.enter([&]() -> Task<> { co_await trio::sleep(5s); });
          child_done = true;
        });
        outer.cancel();
        co_return;
      });
      EXPECT_EQ(trio::current_time(), at(5s));
    });
    EXPECT_TRUE(child_done);
    EXPECT_FALSE(outer.cancelled_caught());  // nothing raised Cancelled
  });
}

// Trio's test_trivial_yields: exiting schedules, but a nursery never raises its own Cancelled.
TEST(Nursery, EmptyNurseryExitIsAScheduleButNotACancelPoint) {
  Sim sim;
  sim.run([&]() -> Task<> {
    TaskRecord& me = trio::lowlevel::current_task();
    for (bool with_child : {false, true}) {
      CancelScope scope;
      const uint32_t cancel_before = me.cancel_points, schedule_before = me.schedule_points;
      co_await scope.enter([&]() -> Task<> {
        scope.cancel();
        co_await trio::open_nursery([&](Nursery& n) -> Task<> {
          if (with_child) n.start_soon([]() -> Task<> { co_return; });  // no checkpoint
          co_return;
        });
      });
      EXPECT_FALSE(scope.cancelled_caught()) << with_child;
      EXPECT_GT(me.schedule_points - schedule_before, 0u) << with_child;
      EXPECT_EQ(me.cancel_points - cancel_before, with_child ? 1u : 0u) << "with_child: the wait";
    }
    CancelScope scope;
    auto leaves = std::vector<std::string>{};
    try {
      co_await scope.enter([&]() -> Task<> {
        scope.cancel();
        co_await trio::open_nursery([&](Nursery&) -> Task<> {
          throw std::runtime_error("raised in a cancelled scope");
          co_return;
        });
      });
    } catch (const trio::ExceptionGroup& g) {
      for (const auto& e : g.leaves()) leaves.push_back(trio::describe(e));
    }
    EXPECT_EQ(leaves, strings({"raised in a cancelled scope"}));
  });
}

// ---- closing ------------------------------------------------------------------------------

TEST(Nursery, AcceptsChildrenWhileWaitingToExit) {
  Sim sim;
  sim.run([&]() -> Task<> {
    int ran = 0;
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await trio::sleep(1s);  // the parent is waiting in the exit by now
        n.start_soon([&]() -> Task<> {
          co_await trio::sleep(1s);
          ++ran;
        });
        ++ran;
      });
      co_return;
    });
    EXPECT_EQ(ran, 2);
    EXPECT_EQ(trio::current_time(), at(2s));
  });
}

// The nursery closes when its last child exits; the parent resumes (and the nursery object goes
// away) only in the next batch. With FIFO batches, a task woken just after that child sees the
// closed nursery.
TEST(Nursery, ClosedNurseryRefusesNewChildren) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  std::vector<std::string> errors;
  trio::run(trio::RunOptions{.clock = &clock, .scheduling = trio::SchedulingPolicy::kFifo},
            [&]() -> Task<> {
              co_await trio::open_nursery([&](Nursery& outer) -> Task<> {
                co_await trio::open_nursery([&](Nursery& inner) -> Task<> {
                  inner.start_soon([]() -> Task<> { co_await trio::sleep(1s); });
                  outer.start_soon([&]() -> Task<> {
                    co_await trio::sleep(1s);  // same deadline, registered later: runs after
                    EXPECT_TRUE(inner.closed());
                    for (int i = 0; i < 2; ++i) {
                      try {
                        if (i == 0)
                          inner.start_soon([]() -> Task<> { co_return; });
                        else
                          co_await inner.start([](trio::TaskStatus<>& s) -> Task<> {
                            s.started();
                            co_return;
                          });
                      } catch (const trio::RuntimeError& e) {
                        errors.push_back(e.what());
                      }
                    }
                  });
                  co_return;
                });
              });
            });
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
  EXPECT_EQ(errors, std::vector<std::string>(2, "Nursery is closed to new arrivals"));
}

TEST(Nursery, ReturnFromBodyWaitsForChildrenAndYieldsTheValue) {
  Sim sim;
  sim.run([&]() -> Task<> {
    int v = co_await trio::open_nursery([&](Nursery& n) -> Task<int> {
      n.start_soon([]() -> Task<int> {  // a child's value is discarded
        co_await trio::sleep(3s);
        co_return 99;
      });
      co_return 42;
    });
    EXPECT_EQ(v, 42);
    EXPECT_EQ(trio::current_time(), at(3s));
  });
}

// ---- lifetimes of what start_soon is given ---------------------------------------------------

TEST(Nursery, StartSoonKeepsByValueCapturesAlive) {
  Sim sim;
  std::string seen;
  auto shared = std::make_shared<int>(7);
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      {
        // Long enough to live on the heap, so a dangling capture is a use-after-free under asan.
        std::string text(100, 'x');
        n.start_soon([text, shared, &seen]() -> Task<> {
          co_await trio::sleep(1s);
          seen = text + std::to_string(*shared);
        });
      }  // `text` and the lambda object are gone; the task has its own copy
      EXPECT_EQ(shared.use_count(), 2);
      co_return;
    });
    EXPECT_EQ(shared.use_count(), 1);  // released when the task exited
  });
  EXPECT_EQ(seen, std::string(100, 'x') + "7");
}

TEST(Nursery, StartSoonKeepsArgumentsAliveIncludingMoveOnlyOnes) {
  Sim sim;
  std::vector<std::string> seen;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      n.start_soon(
          [&](std::unique_ptr<std::string> p) -> Task<> {
            co_await trio::sleep(1s);
            seen.push_back(*p);
          },
          std::make_unique<std::string>(std::string(64, 'u')));
      // A const& parameter binds to the copy stored with the task, not to the temporary.
      n.start_soon(
          [&](const std::string& s, const std::vector<int>& v) -> Task<> {
            co_await trio::sleep(2s);
            seen.push_back(s + std::to_string(v.size()));
          },
          std::string(64, 'r'), std::vector<int>(3));
      co_return;
    });
  });
  EXPECT_EQ(seen, (std::vector<std::string>{std::string(64, 'u'), std::string(64, 'r') + "3"}));
}

// ---- the task tree ------------------------------------------------------------------------

TEST(Nursery, TaskTreeIntrospection) {
  Sim sim;
  sim.run([&]() -> Task<> {
    TaskRecord& parent = trio::lowlevel::current_task();
    EXPECT_TRUE(trio::lowlevel::child_nurseries(parent).empty());
    co_await trio::open_nursery([&](Nursery& n1) -> Task<> {
      EXPECT_EQ(n1.parent_task(), &parent);
      co_await trio::open_nursery([&](Nursery& n2) -> Task<> {
        EXPECT_EQ(trio::lowlevel::child_nurseries(parent), (std::vector<Nursery*>{&n1, &n2}));
        n2.start_soon(trio::TaskName("kid"), [&]() -> Task<> {
          TaskRecord& me = trio::lowlevel::current_task();
          EXPECT_EQ(me.name(), "kid");
          EXPECT_EQ(trio::lowlevel::parent_nursery(me), &n2);
          EXPECT_EQ(trio::lowlevel::eventual_parent_nursery(me), nullptr);
          co_await trio::sleep(1s);
        });
        n2.start_soon([&]() -> Task<> {
          // The default name: the parent's name and the spawn counter.
          EXPECT_EQ(trio::lowlevel::current_task().name().rfind("main.", 0), 0u);
          co_return;
        });
        EXPECT_EQ(n2.child_count(), 2u);
        EXPECT_EQ(n2.child_tasks().front()->name(), "kid");
        co_await trio::lowlevel::wait_all_tasks_blocked();
        EXPECT_EQ(n2.child_count(), 1u);
        EXPECT_EQ(trio::lowlevel::waiting_on(*n2.child_tasks().front()), "sleep");
      });
      EXPECT_EQ(trio::lowlevel::child_nurseries(parent), std::vector<Nursery*>{&n1});
      co_return;
    });
    EXPECT_TRUE(trio::lowlevel::child_nurseries(parent).empty());
  });
}
