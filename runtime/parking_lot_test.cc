// SPDX-License-Identifier: Apache-2.0 OR MIT
// trio::lowlevel::ParkingLot (spec §2.12, Trio's test_parking_lot.py): strict FIFO wake-ups,
// unpark counts, statistics, cancellation leaving the others in order, repark keeping order (and
// cancellation following a reparked task), breaking a lot (BrokenResourceError for parked and
// later parkers) and parking-lot breakers (a task exiting breaks the lot).
// Every run uses a MockClock with autojump threshold 0, and wait_all_tasks_blocked() as the
// deterministic "let everyone else settle" step.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/testing/sim_test_support.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::Task;
using trio::lowlevel::ParkingLot;
using trio::lowlevel::TaskRecord;
using trio::lowlevel::wait_all_tasks_blocked;
using Record = std::vector<std::string>;

namespace {

using sim_test::sim_run;

// Parks in `lot` inside its own cancel scope (published through `scope_out`), recording
// "sleep i" and then "wake i" or "cancelled i".
Task<> parker(int i, ParkingLot* lot, Record* record, trio::CancelScope** scope_out) {
  trio::CancelScope scope;
  *scope_out = &scope;
  record->push_back("sleep " + std::to_string(i));
  co_await scope.enter([&]() -> Task<> {
    co_await lot->park();
    record->push_back("wake " + std::to_string(i));
  });
  if (scope.cancelled_caught()) record->push_back("cancelled " + std::to_string(i));
}

// Starts parkers 0..2 one at a time, so that they park in index order.
Task<> park_three(trio::Nursery& n, ParkingLot& lot, Record& record, trio::CancelScope** scopes) {
  for (int i = 0; i < 3; ++i) {
    n.start_soon(parker, i, &lot, &record, &scopes[i]);
    co_await wait_all_tasks_blocked();
  }
}

Record sorted(Record r) {
  std::sort(r.begin(), r.end());
  return r;
}

TEST(ParkingLot, UnparkAllWakesEveryParkedTaskAndStatisticsFollow) {
  Record record;
  sim_run([&]() -> Task<> {
    ParkingLot lot;
    trio::CancelScope* scopes[3] = {};
    EXPECT_TRUE(lot.empty());
    EXPECT_EQ(lot.first(), nullptr);
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 3; ++i) n.start_soon(parker, i, &lot, &record, &scopes[i]);
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(lot.size(), 3u);
      EXPECT_FALSE(lot.empty());
      EXPECT_EQ(lot.statistics().tasks_waiting, 3u);
      EXPECT_EQ(trio::lowlevel::waiting_on(*lot.first()), "ParkingLot.park");
      EXPECT_EQ(lot.unpark_all().size(), 3u);
      EXPECT_EQ(lot.statistics().tasks_waiting, 0u);
    });
  });
  ASSERT_EQ(record.size(), 6u);
  EXPECT_EQ(sorted(Record(record.begin(), record.begin() + 3)),
            (Record{"sleep 0", "sleep 1", "sleep 2"}));
  EXPECT_EQ(sorted(Record(record.begin() + 3, record.end())),
            (Record{"wake 0", "wake 1", "wake 2"}));
}

TEST(ParkingLot, OneByOneWakeupsAreStrictFifoAndAnEmptyUnparkIsANoOp) {
  Record record;
  sim_run([&]() -> Task<> {
    ParkingLot lot;
    trio::CancelScope* scopes[3] = {};
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      co_await park_three(n, lot, record, scopes);
      for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(lot.unpark().size(), 1u);
        co_await wait_all_tasks_blocked();
      }
    });
    EXPECT_TRUE(lot.unpark().empty());
    EXPECT_TRUE(lot.unpark(100).empty());
  });
  EXPECT_EQ(record, (Record{"sleep 0", "sleep 1", "sleep 2", "wake 0", "wake 1", "wake 2"}));
}

TEST(ParkingLot, UnparkWithCountWakesTheLongestWaiting) {
  Record record;
  sim_run([&]() -> Task<> {
    ParkingLot lot;
    trio::CancelScope* scopes[3] = {};
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      co_await park_three(n, lot, record, scopes);
      EXPECT_EQ(lot.unpark(2).size(), 2u);
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(lot.size(), 1u);
      lot.unpark_all();
    });
  });
  ASSERT_EQ(record.size(), 6u);
  EXPECT_EQ(sorted(Record(record.begin() + 3, record.begin() + 5)), (Record{"wake 0", "wake 1"}));
}

TEST(ParkingLot, ACancelledParkerLeavesAndTheOthersKeepTheirOrder) {
  Record record;
  sim_run([&]() -> Task<> {
    ParkingLot lot;
    trio::CancelScope* scopes[3] = {};
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      co_await park_three(n, lot, record, scopes);
      scopes[1]->cancel();
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(lot.size(), 2u);
      for (int i = 0; i < 2; ++i) {
        lot.unpark();
        co_await wait_all_tasks_blocked();
      }
    });
  });
  EXPECT_EQ(record, (Record{"sleep 0", "sleep 1", "sleep 2", "cancelled 1", "wake 0", "wake 2"}));
}

TEST(ParkingLot, ReparkMovesTasksInOrderAndCancellationFollowsThem) {
  Record record;
  sim_run([&]() -> Task<> {
    ParkingLot lot1, lot2;
    trio::CancelScope* scopes[3] = {};
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      co_await park_three(n, lot1, record, scopes);
      EXPECT_EQ(lot1.repark(lot2).size(), 1u);
      EXPECT_EQ(lot1.size(), 2u);
      EXPECT_EQ(lot2.size(), 1u);
      lot2.unpark_all();
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(record, (Record{"sleep 0", "sleep 1", "sleep 2", "wake 0"}));
      EXPECT_EQ(lot1.repark_all(lot2).size(), 2u);
      EXPECT_TRUE(lot1.empty());
      EXPECT_EQ(lot2.size(), 2u);
      scopes[1]->cancel();  // its abort must unlink it from lot2, where it now is
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(lot2.size(), 1u);
      lot2.unpark_all();
    });
  });
  EXPECT_EQ(record, (Record{"sleep 0", "sleep 1", "sleep 2", "wake 0", "cancelled 1", "wake 2"}));
}

TEST(ParkingLot, ReparkWithCountKeepsFifoOrderInTheNewLot) {
  Record record;
  sim_run([&]() -> Task<> {
    ParkingLot lot1, lot2;
    trio::CancelScope* scopes[3] = {};
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      co_await park_three(n, lot1, record, scopes);
      lot1.repark(lot2, 2);
      EXPECT_EQ(lot1.size(), 1u);
      EXPECT_EQ(lot2.size(), 2u);
      while (!lot2.empty()) {
        lot2.unpark();
        co_await wait_all_tasks_blocked();
      }
      EXPECT_EQ(record, (Record{"sleep 0", "sleep 1", "sleep 2", "wake 0", "wake 1"}));
      lot1.unpark_all();
    });
  });
}

TEST(ParkingLot, BreakingWakesParkersWithBrokenResourceErrorAndLaterParksRaise) {
  Record record;
  sim_run([&]() -> Task<> {
    ParkingLot lot;
    TaskRecord* me = &trio::lowlevel::current_task();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 2; ++i)
        n.start_soon([&]() -> Task<> {
          try {
            co_await lot.park();
          } catch (const trio::BrokenResourceError& e) {
            record.push_back(e.what());
          }
        });
      co_await wait_all_tasks_blocked();
      lot.break_lot();  // defaults to the current task
    });
    EXPECT_TRUE(lot.broken());
    EXPECT_EQ(lot.broken_by(), (std::vector<TaskRecord*>{me}));
    lot.break_lot();  // again: appended
    EXPECT_EQ(lot.broken_by(), (std::vector<TaskRecord*>{me, me}));
    try {
      co_await lot.park();
      ADD_FAILURE() << "parked in a broken lot";
    } catch (const trio::BrokenResourceError& e) {
      record.push_back(e.what());
    }
  });
  EXPECT_EQ(record, (Record{"Parking lot broken by main", "Parking lot broken by main",
                            "Attempted to park in parking lot broken by main"}));
}

TEST(ParkingLot, ABreakerTaskExitingBreaksTheLot) {
  std::string error;
  sim_run([&]() -> Task<> {
    ParkingLot lot;
    trio::CancelScope breaker_scope;
    try {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon(trio::TaskName("breaker"), [&]() -> Task<> {
          trio::lowlevel::add_parking_lot_breaker(trio::lowlevel::current_task(), lot);
          co_await breaker_scope.enter([&]() -> Task<> { co_await trio::sleep_forever(); });
        });
        co_await wait_all_tasks_blocked();
        n.start_soon([&]() -> Task<> { co_await lot.park(); });
        co_await wait_all_tasks_blocked();
        breaker_scope.cancel();
      });
    } catch (const trio::ExceptionGroup& g) {
      EXPECT_EQ(g.size(), 1u);
      error = trio::describe(g.exceptions().at(0));
    }
    EXPECT_TRUE(lot.broken());
  });
  EXPECT_EQ(error, "Parking lot broken by breaker");
}

TEST(ParkingLot, ParkingAfterTheBreakerExitedDoesNotTouchTheExitedTask) {
  // Regression: the error message used to read the name of the last breaker's task record,
  // which is freed when that task exits (a use-after-free under ASan).
  std::string error;
  sim_run([&]() -> Task<> {
    ParkingLot lot;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(trio::TaskName("breaker"), [&]() -> Task<> {
        trio::lowlevel::add_parking_lot_breaker(trio::lowlevel::current_task(), lot);
        co_return;
      });
      co_return;
    });
    EXPECT_TRUE(lot.broken());
    try {
      co_await lot.park();
    } catch (const trio::BrokenResourceError& e) {
      error = e.what();
    }
  });
  EXPECT_EQ(error, "Attempted to park in parking lot broken by breaker");
}

TEST(ParkingLot, BreakerRegistrationCountsAndRemovingAnUnregisteredOneIsRuntimeError) {
  sim_run([&]() -> Task<> {
    ParkingLot lot;
    TaskRecord& me = trio::lowlevel::current_task();
    EXPECT_THROW(trio::lowlevel::remove_parking_lot_breaker(me, lot), trio::RuntimeError);
    trio::lowlevel::add_parking_lot_breaker(me, lot);
    trio::lowlevel::add_parking_lot_breaker(me, lot);
    trio::lowlevel::remove_parking_lot_breaker(me, lot);
    trio::lowlevel::remove_parking_lot_breaker(me, lot);
    try {
      trio::lowlevel::remove_parking_lot_breaker(me, lot);
      ADD_FAILURE() << "removed an unregistered breaker";
    } catch (const trio::RuntimeError& e) {
      EXPECT_STREQ(e.what(),
                   "Attempted to remove task as breaker for a lot it is not registered for");
    }
    co_return;
  });
}

TEST(ParkingLot, SeveralBreakersExitingAllRecordThemselves) {
  sim_run([&]() -> Task<> {
    ParkingLot lot;
    std::vector<TaskRecord*> children;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      for (int i = 0; i < 3; ++i)
        n.start_soon([&]() -> Task<> {
          children.push_back(&trio::lowlevel::current_task());
          co_await trio::sleep_forever();
        });
      co_await wait_all_tasks_blocked();
      for (TaskRecord* c : children) trio::lowlevel::add_parking_lot_breaker(*c, lot);
      n.cancel_scope().cancel();
    });
    std::vector<TaskRecord*> by = lot.broken_by();
    std::sort(by.begin(), by.end());
    std::sort(children.begin(), children.end());
    EXPECT_EQ(by, children);  // compared as addresses only: those tasks are gone
  });
}

TEST(ParkingLot, BreakingALotWhoseBreakerIsParkedInIt) {
  std::string error;
  sim_run([&]() -> Task<> {
    ParkingLot lot;
    try {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        TaskRecord* child = co_await n.start<TaskRecord*>(
            trio::TaskName("parked"), [&](trio::TaskStatus<TaskRecord*>& status) -> Task<> {
              status.started(&trio::lowlevel::current_task());
              co_await lot.park();
            });
        lot.break_lot(child);
      });
    } catch (const trio::ExceptionGroup& g) {
      error = trio::describe(g.exceptions().at(0));
    }
  });
  EXPECT_EQ(error, "Parking lot broken by parked");
}

// The checkpoint rule (spec §2.1): park() is a cancel point and a schedule point, also when it
// raises Cancelled at once; unpark, repark and break_lot are sync. (Added with the sync
// primitives, which build on these counters.)
TEST(ParkingLot, ParkIsACheckpointAndEverythingElseIsSync) {
  sim_run([]() -> Task<> {
    ParkingLot lot, other;
    TaskRecord& me = trio::lowlevel::current_task();
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        TaskRecord& t = trio::lowlevel::current_task();
        const uint32_t cancel = t.cancel_points, schedule = t.schedule_points;
        co_await lot.park();
        EXPECT_NE(t.cancel_points, cancel);
        EXPECT_NE(t.schedule_points, schedule);
      });
      co_await wait_all_tasks_blocked();
      const uint32_t cancel = me.cancel_points, schedule = me.schedule_points;
      lot.repark(other);
      other.unpark_all();
      lot.break_lot();
      EXPECT_EQ(me.cancel_points, cancel);
      EXPECT_EQ(me.schedule_points, schedule);
    });
    ParkingLot fresh;
    trio::CancelScope scope;
    scope.cancel();
    const uint32_t schedule = me.schedule_points;
    co_await scope.enter([&]() -> Task<> { co_await fresh.park(); });
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_NE(me.schedule_points, schedule);
    EXPECT_TRUE(fresh.empty());
  });
}

TEST(ParkingLot, UnparkOneWakesTheLongestWaiterAndReturnsNullWhenEmpty) {
  Record record;
  sim_run([&]() -> Task<> {
    ParkingLot lot;
    trio::CancelScope* scopes[3] = {};
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      co_await park_three(n, lot, record, scopes);
      for (int i = 0; i < 3; ++i) {
        TaskRecord* first = lot.first();
        EXPECT_EQ(lot.unpark_one(), first);
        EXPECT_EQ(lot.size(), 2u - i);
        co_await wait_all_tasks_blocked();
      }
    });
    EXPECT_EQ(lot.unpark_one(), nullptr);
  });
  EXPECT_EQ(record, (Record{"sleep 0", "sleep 1", "sleep 2", "wake 0", "wake 1", "wake 2"}));
}

// Regression: a lot destroyed while a live task had it registered as its breaker used to stay in
// the task's list, and the task's exit then broke the destroyed lot (use-after-free under asan).
TEST(ParkingLot, DestroyingALotUnregistersItFromItsLiveBreakers) {
  sim_run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        TaskRecord& me = trio::lowlevel::current_task();
        {
          ParkingLot lot;
          ParkingLot kept;
          trio::lowlevel::add_parking_lot_breaker(me, lot);
          trio::lowlevel::add_parking_lot_breaker(me, kept);
          trio::lowlevel::remove_parking_lot_breaker(me, kept);
        }
        // Neither lot is registered any more: removing them again is the usual misuse error.
        ParkingLot other;
        EXPECT_THROW(trio::lowlevel::remove_parking_lot_breaker(me, other), trio::RuntimeError);
        co_await trio::checkpoint();
      });
      co_return;
    });
  });
}

TEST(ParkingLot, DestroyingALotWithParkedTasksWakesThemWithBrokenResourceError) {
  std::vector<std::string> errors;
  sim_run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      auto lot = std::make_unique<ParkingLot>();
      for (int i = 0; i < 2; ++i) {
        n.start_soon([&]() -> Task<> {
          try {
            co_await lot->park();
          } catch (const trio::BrokenResourceError& e) {
            errors.push_back(e.what());
          }
        });
      }
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(lot->size(), 2u);
      lot.reset();
    });
  });
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], errors[1]);
  EXPECT_NE(errors[0].find("ParkingLot destroyed while 2 task(s) were parked in it"),
            std::string::npos)
      << errors[0];
}

}  // namespace
