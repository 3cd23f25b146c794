// SPDX-License-Identifier: Apache-2.0 OR MIT
// Nursery::start (spec §2.7; test_nursery_start and its neighbours in Trio's test_run.py,
// rewritten): start returns exactly when the child calls started() — checked in virtual time —
// with its value; until then the child runs under the caller's cancel scopes and its errors come
// out of start unwrapped; a child that returns without started(), or calls it twice, is an error;
// started() in a cancelled caller context moves nothing, so the child stays under start(); a
// pending start keeps the target nursery open; and a child moved into a cancelled nursery is
// cancelled at once, also when it is already blocked.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
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
using trio::TaskStatus;
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

Task<> sleep_then_start(int seconds, TaskStatus<int>& status) {
  co_await trio::sleep(std::chrono::seconds(seconds));
  status.started(seconds);
  co_await trio::sleep(std::chrono::seconds(seconds));
}

}  // namespace

TEST(Start, ReturnsExactlyWhenTheChildCallsStarted) {
  Sim sim;
  sim.run([&]() -> Task<> {
    for (int seconds : {1, 2}) {
      const trio::TimePoint t0 = trio::current_time();
      co_await trio::open_nursery([&](Nursery& n) -> Task<> {
        EXPECT_EQ(n.child_count(), 0u);
        int v = co_await n.start<int>(sleep_then_start, seconds);
        EXPECT_EQ(v, seconds);
        EXPECT_EQ(trio::current_time() - t0, std::chrono::seconds(seconds));
        EXPECT_EQ(n.child_count(), 1u);  // the child now belongs to this nursery
      });
      EXPECT_EQ(trio::current_time() - t0, std::chrono::seconds(2 * seconds));
    }
  });
}

TEST(Start, IgnoredStatusLetsTheFunctionBeAwaitedDirectly) {
  Sim sim;
  sim.run([&]() -> Task<> {
    co_await sleep_then_start(3, TaskStatus<int>::ignored());
    EXPECT_EQ(trio::current_time(), at(6s));
  });
}

TEST(Start, StartedValueCanBeMoveOnly) {
  Sim sim;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      std::unique_ptr<std::string> p = co_await n.start<std::unique_ptr<std::string>>(
          [](TaskStatus<std::unique_ptr<std::string>>& status) -> Task<> {
            co_await trio::checkpoint();
            status.started(std::make_unique<std::string>("handed over"));
          });
      EXPECT_EQ(*p, "handed over");
    });
  });
}

TEST(Start, CallingStartedTwiceIsRuntimeError) {
  Sim sim;
  std::string error;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      co_await n.start([&](TaskStatus<>& status) -> Task<> {
        status.started();
        try {
          status.started();
        } catch (const trio::RuntimeError& e) {
          error = e.what();
        }
        co_return;
      });
    });
  });
  EXPECT_EQ(error, "called 'started' twice on the same task status");
}

TEST(Start, ErrorBeforeStartedComesOutOfStartUnwrapped) {
  Sim sim;
  std::string error;
  bool nursery_raised = false;
  sim.run([&]() -> Task<> {
    try {
      co_await trio::open_nursery([&](Nursery& n) -> Task<> {
        try {
          co_await n.start([](TaskStatus<>&) -> Task<> {
            co_await trio::sleep(1s);
            throw std::out_of_range("oops");
          });
        } catch (const std::out_of_range& e) {
          error = e.what();
        }
      });
    } catch (const trio::BaseExceptionGroup&) {
      nursery_raised = true;
    }
  });
  EXPECT_EQ(error, "oops");
  EXPECT_FALSE(nursery_raised);  // handled where start() was awaited, never reached the nursery
}

TEST(Start, ChildExitingWithoutStartedIsRuntimeError) {
  Sim sim;
  std::string error;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      try {
        co_await n.start([](TaskStatus<>&) -> Task<> { co_await trio::sleep(1s); });
      } catch (const trio::RuntimeError& e) {
        error = e.what();
      }
    });
  });
  EXPECT_EQ(error, "child exited without calling task_status.started()");
}

// Until started(), the child runs under the caller's scopes; afterwards, under the nursery's.
TEST(Start, ChildRunsUnderTheCallersScopesUntilStarted) {
  Sim sim;
  sim.run([&]() -> Task<> {
    bool child_cancelled = false, child_finished = false;
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      bool moved = co_await trio::move_on_after(1s, [&]() -> Task<> {
        co_await n.start([&](TaskStatus<>& status) -> Task<> {
          try {
            co_await trio::sleep(2s);
          } catch (const trio::Cancelled&) {
            child_cancelled = true;
            throw;
          }
          status.started();
        });
      });
      EXPECT_TRUE(moved);
      EXPECT_EQ(trio::current_time(), at(1s));
      EXPECT_EQ(n.child_count(), 0u);
      moved = co_await trio::move_on_after(1s, [&]() -> Task<> {
        co_await n.start([&](TaskStatus<>& status) -> Task<> {
          status.started();
          co_await trio::sleep(5s);  // no longer under the move_on_after
          child_finished = true;
        });
      });
      EXPECT_FALSE(moved);
    });
    EXPECT_TRUE(child_cancelled);
    EXPECT_TRUE(child_finished);
    EXPECT_EQ(trio::current_time(), at(6s));
  });
}

// Trio's test_nursery_start: the three ways started() can meet a cancelled caller.
TEST(Start, StartedInCancelledCallerThenCheckpointRaisesCancelled) {
  Sim sim;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      CancelScope cs;
      co_await cs.enter([&]() -> Task<> {
        cs.cancel();
        co_await n.start<std::string>([](TaskStatus<std::string>& status) -> Task<> {
          status.started("hi");  // nothing moves: the child stays under start()
          co_await trio::checkpoint();
        });
        ADD_FAILURE() << "start() returned in a cancelled scope";
      });
      EXPECT_TRUE(cs.cancelled_caught());
      EXPECT_EQ(n.child_count(), 0u);
    });
  });
}

TEST(Start, StartedInCancelledCallerWithoutCheckpointReturnsNormally) {
  Sim sim;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      CancelScope cs;
      bool returned = false;
      co_await cs.enter([&]() -> Task<> {
        cs.cancel();
        co_await n.start([](TaskStatus<>& status) -> Task<> {
          status.started();
          co_return;
        });
        returned = true;
      });
      EXPECT_TRUE(returned);
      EXPECT_FALSE(cs.cancelled_caught());
    });
  });
}

TEST(Start, ErrorAfterStartedInCancelledCallerComesOutOfStart) {
  Sim sim;
  std::string error;
  sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      CancelScope cs;
      co_await cs.enter([&]() -> Task<> {
        cs.cancel();
        try {
          co_await n.start([](TaskStatus<>& status) -> Task<> {
            status.started();
            throw std::out_of_range("whoopsiedaisy");
            co_return;
          });
        } catch (const std::out_of_range& e) {
          error = e.what();
        }
      });
    });
  });
  EXPECT_EQ(error, "whoopsiedaisy");
}

TEST(Start, ErrorAfterStartedGoesToTheTargetNursery) {
  Sim sim;
  std::vector<std::string> leaves;
  bool start_returned = false;
  try {
    sim.run([&]() -> Task<> {
      co_await trio::open_nursery([&](Nursery& n) -> Task<> {
        co_await n.start([](TaskStatus<>& status) -> Task<> {
          status.started();
          co_await trio::sleep(1s);
          throw std::out_of_range("after started");
        });
        start_returned = true;
      });
    });
  } catch (const trio::ExceptionGroup& g) {
    for (const auto& e : g.leaves()) leaves.push_back(trio::describe(e));
  }
  EXPECT_TRUE(start_returned);
  EXPECT_EQ(leaves, std::vector<std::string>{"after started"});
}

TEST(Start, ClosedNurseryIsRefusedBeforeAnyTimePasses) {
  // A start() that is still pending keeps the nursery open; once it is closed, start() fails at
  // the call. The closed nursery is reached from a task that runs in the same batch as the
  // nursery's last child exits (FIFO), before the nursery's frame is gone.
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  std::string error;
  trio::run(trio::RunOptions{.clock = &clock, .scheduling = trio::SchedulingPolicy::kFifo},
            [&]() -> Task<> {
              co_await trio::open_nursery([&](Nursery& outer) -> Task<> {
                co_await trio::open_nursery([&](Nursery& inner) -> Task<> {
                  inner.start_soon([]() -> Task<> { co_await trio::sleep(1s); });
                  outer.start_soon([&]() -> Task<> {
                    co_await trio::sleep(1s);
                    try {
                      (void)inner.start<int>(sleep_then_start, 7);
                    } catch (const trio::RuntimeError& e) {
                      error = e.what();
                    }
                    EXPECT_EQ(trio::current_time(), at(1s));
                  });
                  co_return;
                });
              });
            });
  EXPECT_EQ(error, "Nursery is closed to new arrivals");
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

// Trio's test_nursery_start_keeps_nursery_open.
TEST(Start, PendingStartKeepsTheTargetNurseryOpen) {
  Sim sim;
  sim.run([&]() -> Task<> {
    auto sleep_a_bit = [](TaskStatus<>& status) -> Task<> {
      co_await trio::sleep(2s);
      status.started();
      co_await trio::sleep(3s);
    };
    const trio::TimePoint t0 = trio::current_time();
    co_await trio::open_nursery([&](Nursery& n1) -> Task<> {
      co_await trio::open_nursery([&](Nursery& n2) -> Task<> {
        auto start_in_n2 = [&]() -> Task<> { co_await n2.start(sleep_a_bit); };
        n1.start_soon(start_in_n2);
        co_await trio::sleep(1s);
        n1.start_soon(start_in_n2);
        // The body ends with n2 empty: only the pending starts keep it open.
      });
      EXPECT_EQ(trio::current_time() - t0, 6s);
    });
  });
}

TEST(Start, PendingStartKeepsNurseryOpenEvenIfTheChildCrashes) {
  Sim sim;
  sim.run([&]() -> Task<> {
    std::string error;
    const trio::TimePoint t0 = trio::current_time();
    co_await trio::open_nursery([&](Nursery& n1) -> Task<> {
      co_await trio::open_nursery([&](Nursery& n2) -> Task<> {
        n1.start_soon([&]() -> Task<> {
          try {
            co_await n2.start([](TaskStatus<>&) -> Task<> {
              co_await trio::sleep(7s);
              throw std::out_of_range("crashed before started");
            });
          } catch (const std::out_of_range& e) {
            error = e.what();
          }
        });
        co_await trio::lowlevel::wait_all_tasks_blocked();
      });
      EXPECT_EQ(trio::current_time() - t0, 7s);
    });
    EXPECT_EQ(error, "crashed before started");
  });
}

TEST(Start, ChildMovesFromStartToTheTargetNursery) {
  Sim sim;
  sim.run([&]() -> Task<> {
    TaskRecord& parent = trio::lowlevel::current_task();
    co_await trio::open_nursery([&](Nursery& n) -> Task<> {
      co_await n.start(trio::TaskName("starter"), [&](TaskStatus<>& status) -> Task<> {
        TaskRecord& me = trio::lowlevel::current_task();
        EXPECT_EQ(me.name(), "starter");
        Nursery* under = trio::lowlevel::parent_nursery(me);
        EXPECT_NE(under, &n);  // start()'s private nursery...
        EXPECT_EQ(under->parent_task(), &parent);
        EXPECT_EQ(trio::lowlevel::eventual_parent_nursery(me), &n);
        EXPECT_TRUE(n.child_tasks().empty());  // not listed before started()
        status.started();
        EXPECT_EQ(trio::lowlevel::parent_nursery(me), &n);  // ...then the target
        EXPECT_EQ(trio::lowlevel::eventual_parent_nursery(me), nullptr);
        EXPECT_EQ(n.child_tasks(), std::vector<TaskRecord*>{&me});
        co_await trio::sleep(1s);
      });
    });
  });
}

// Trio's test_nursery_start_with_cancelled_nursery: a child whose own children are asleep moves
// into a cancelled target; the sleepers are cancelled at once. Both orders: the target cancelled
// just before started(), and just after.
TEST(Start, ChildMovedIntoACancelledNurseryIsCancelled) {
  for (bool cancel_before : {true, false}) {
    SCOPED_TRACE(cancel_before ? "cancelled before started()" : "cancelled after started()");
    Sim sim;
    int sleepers_cancelled = 0;
    sim.run([&]() -> Task<> {
      auto setup_nursery = [](TaskStatus<Nursery*>& status) -> Task<> {
        co_await trio::open_nursery([&](Nursery& n) -> Task<> {
          status.started(&n);
          co_await trio::sleep_forever();
        });
      };
      auto sleeper = [&]() -> Task<> {
        try {
          co_await trio::sleep_forever();
        } catch (const trio::Cancelled&) {
          ++sleepers_cancelled;
          throw;
        }
      };
      co_await trio::open_nursery([&](Nursery& outer) -> Task<> {
        Nursery* target = co_await outer.start<Nursery*>(setup_nursery);
        co_await target->start([&](TaskStatus<>& status) -> Task<> {
          co_await trio::open_nursery([&](Nursery& mine) -> Task<> {
            mine.start_soon(sleeper);
            mine.start_soon(sleeper);
            co_await trio::lowlevel::wait_all_tasks_blocked();
            if (cancel_before) target->cancel_scope().cancel();
            status.started();
          });
        });
        if (!cancel_before) target->cancel_scope().cancel();
      });
      EXPECT_EQ(trio::current_time(), at(0s));
    });
    EXPECT_EQ(sleepers_cancelled, 2);
  }
}
