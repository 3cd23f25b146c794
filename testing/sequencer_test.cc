// SPDX-License-Identifier: Apache-2.0 OR MIT
// Sequencer (Trio's test_sequencer.py, rewritten): bodies run in position order whatever the
// schedule (checked over many shuffled seeds); a position used twice is a RuntimeError; a waiter
// cancelled before its turn breaks the sequence — it gets "Sequencer wait cancelled -- sequence
// broken", the other waiters and late arrivals "sequence broken!"; the next position goes even
// when a body raises; values pass through; waiting is a checkpoint, position 0 is not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"
#include "testing/testing.h"

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using trio::Task;
using trio::testing::capture_exception;
using trio::testing::HoldsException;
using trio::testing::Sequencer;

namespace {

using Record = std::vector<std::pair<std::string, int>>;

Task<> f1(Sequencer* seq, Record* record) {
  co_await seq->run(1, [&]() -> Task<> {
    record->emplace_back("f1", 1);
    co_return;
  });
  co_await seq->run(3, [&]() -> Task<> {
    record->emplace_back("f1", 3);
    co_return;
  });
  co_await seq->run(4, [&]() -> Task<> {
    record->emplace_back("f1", 4);
    co_return;
  });
}

Task<> f2(Sequencer* seq, Record* record) {
  co_await seq->run(0, [&]() -> Task<> {
    record->emplace_back("f2", 0);
    co_return;
  });
  co_await seq->run(2, [&]() -> Task<> {
    record->emplace_back("f2", 2);
    co_return;
  });
}

// Trio's test_Sequencer: two tasks interleave in the sequence's order.
Task<> interleave(Record* record) {
  Sequencer seq;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon(f1, &seq, record);
    n.start_soon(f2, &seq, record);
    co_await seq.run(5, [&]() -> Task<> { co_await trio::testing::wait_all_tasks_blocked(); });
  });
}

const Record kExpected{{"f2", 0}, {"f1", 1}, {"f2", 2}, {"f1", 3}, {"f1", 4}};

}  // namespace

TRIO_TEST(Sequencer, RunsBodiesInPositionOrder) {
  Record record;
  co_await interleave(&record);
  EXPECT_EQ(record, kExpected);
}

TEST(Sequencer, OrderHoldsUnderEveryShuffledSchedule) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    trio::MockClock clock;
    clock.set_autojump_threshold(0s);
    Record record;
    trio::run(
        trio::RunOptions{
            .clock = &clock, .seed = seed, .scheduling = trio::SchedulingPolicy::kShuffle},
        interleave, &record);
    EXPECT_EQ(record, kExpected) << "seed " << seed;
  }
  EXPECT_EQ(trio::lowlevel::live_frames(), 0);
}

TRIO_TEST(Sequencer, ReusingAPositionIsARuntimeError) {
  Sequencer seq;
  std::exception_ptr reuse;
  co_await seq.run(0, [&]() -> Task<> {
    reuse = co_await capture_exception(seq.run(0, [&]() -> Task<> {
      ADD_FAILURE() << "a reused position ran its body";
      co_return;
    }));
  });
  EXPECT_THAT(reuse, HoldsException<trio::RuntimeError>("Attempted to reuse sequence point 0"));
  EXPECT_FALSE(seq.broken());
}

// Trio's test_Sequencer_cancel.
TRIO_TEST(Sequencer, CancelledWaiterBreaksTheSequence) {
  Sequencer seq;
  std::vector<std::string> record;
  auto child = [&](int i) -> Task<> {
    trio::CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      if (i == 1) scope.cancel();
      try {
        co_await seq.run(i, [&]() -> Task<> {
          ADD_FAILURE() << "seq(" << i << ") ran its body";
          co_return;
        });
      } catch (const trio::RuntimeError& e) {
        record.push_back("seq(" + std::to_string(i) + ") " + e.what());
      }
    });
  };
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon([&]() { return child(1); });
    n.start_soon([&]() { return child(2); });
    co_await seq.run(0, [&]() -> Task<> { co_return; });
  });
  EXPECT_THAT(record, ElementsAre("seq(1) Sequencer wait cancelled -- sequence broken",
                                  "seq(2) sequence broken!"));
  EXPECT_TRUE(seq.broken());
  // Late arrivals also get errors.
  std::exception_ptr late = co_await capture_exception(seq.run(3, [&]() -> Task<> { co_return; }));
  EXPECT_THAT(late, HoldsException<trio::RuntimeError>("sequence broken!"));
}

TRIO_TEST(Sequencer, WaiterCancelledWhileParkedBreaksTheSequence) {
  Sequencer seq;
  std::exception_ptr waiter_error, late;
  bool zero_finished = false;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon([&]() -> Task<> {
      co_await seq.run(0, [&]() -> Task<> {
        co_await trio::sleep(10s);  // position 1 parks meanwhile, and is cancelled at 1 s
        zero_finished = true;
      });
    });
    waiter_error = co_await capture_exception([&]() -> Task<> {
      co_await trio::move_on_after(
          1s, [&]() -> Task<> { co_await seq.run(1, [&]() -> Task<> { co_return; }); });
    });
    EXPECT_EQ(trio::current_time(), trio::time_point_from_ns(1'000'000'000));
  });
  EXPECT_TRUE(zero_finished);
  EXPECT_THAT(waiter_error,
              HoldsException<trio::RuntimeError>("Sequencer wait cancelled -- sequence broken"));
  late = co_await capture_exception(seq.run(2, [&]() -> Task<> { co_return; }));
  EXPECT_THAT(late, HoldsException<trio::RuntimeError>("sequence broken!"));
}

TRIO_TEST(Sequencer, NextPositionGoesEvenWhenABodyRaises) {
  Sequencer seq;
  bool one_ran = false;
  std::exception_ptr zero_error;
  co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
    n.start_soon([&]() -> Task<> {
      co_await seq.run(1, [&]() -> Task<> {
        one_ran = true;
        co_return;
      });
    });
    zero_error = co_await capture_exception(seq.run(0, [&]() -> Task<> {
      co_await trio::sleep(1s);
      throw std::runtime_error("zero failed");
    }));
  });
  EXPECT_TRUE(one_ran);
  EXPECT_THAT(zero_error, HoldsException<std::runtime_error>("zero failed"));
}

TRIO_TEST(Sequencer, ReturnsTheBodysValue) {
  Sequencer seq;
  int zero = co_await seq.run(0, [&]() -> Task<int> { co_return 7; });
  std::string one = co_await seq.run(1, [&]() -> Task<std::string> { co_return "one"; });
  EXPECT_EQ(zero, 7);
  EXPECT_EQ(one, "one");
}

TRIO_TEST(Sequencer, WaitingIsACheckpointButPositionZeroIsNot) {
  Sequencer seq;
  co_await trio::testing::assert_no_checkpoints(
      [&]() -> Task<> { co_await seq.run(0, [&]() -> Task<> { co_return; }); });
  // Position 1 is already set: still a full checkpoint, as Trio's Event.wait.
  co_await trio::testing::assert_checkpoints(
      [&]() -> Task<> { co_await seq.run(1, [&]() -> Task<> { co_return; }); });
}
