// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Timer perturbation (RunOptions::timer_perturbation_window): off by default, so deadlines fire
// at their exact times and no decision is drawn; when on, a deadline is only ever delayed, by
// less than the window, by decisions of the run (so a seed replays it); and deadlines less than
// a window apart then land on the same instant in some seeds, or in the other order — the
// "timeout versus completion" orders that exact times never produce.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;

namespace {

// Forwards to a Prng and counts the decisions of each kind.
class CountingChoices final : public trio::ChoiceSource {
 public:
  explicit CountingChoices(uint64_t seed) : prng_(seed) {}
  uint64_t choose(uint64_t n, trio::ChoiceKind kind) override {
    if (kind == trio::ChoiceKind::kTimerNudge) ++nudges;
    return prng_.choose(n, kind);
  }
  int nudges = 0;

 private:
  trio::Prng prng_;
};

struct Wake {
  std::string who;
  int64_t at_ns;
};

// Two tasks: "work" sleeps 990 ms, "timeout" sleeps 1 s; each records when it woke, in order.
std::vector<Wake> race(uint64_t seed, trio::Duration window, int* nudges = nullptr) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  CountingChoices choices(seed);
  std::vector<Wake> wakes;
  trio::run(
      trio::RunOptions{.clock = &clock, .choices = &choices, .timer_perturbation_window = window},
      [&]() -> trio::Task<> {
        co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
          auto sleeper = [&](std::string who, trio::Duration d) -> trio::Task<> {
            co_await trio::sleep(d);
            wakes.push_back({who, trio::current_time().time_since_epoch().count()});
          };
          n.start_soon(sleeper, "work", 990ms);
          n.start_soon(sleeper, "timeout", 1s);
          co_return;
        });
      });
  if (nudges) *nudges = choices.nudges;
  return wakes;
}

TEST(TimerPerturbation, OffByDefaultDeadlinesAreExactAndNoDecisionIsDrawn) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    int nudges = -1;
    const auto wakes = race(seed, trio::Duration(0), &nudges);
    ASSERT_EQ(wakes.size(), 2u);
    EXPECT_EQ(wakes[0].who, "work");
    EXPECT_EQ(wakes[0].at_ns, 990'000'000);
    EXPECT_EQ(wakes[1].at_ns, 1'000'000'000);
    EXPECT_EQ(nudges, 0);
  }
}

TEST(TimerPerturbation, OnlyDelaysByLessThanTheWindowAndReplaysBySeed) {
  int delayed = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const auto wakes = race(seed, 20ms);
    for (const Wake& w : wakes) {
      const int64_t exact = w.who == "work" ? 990'000'000 : 1'000'000'000;
      EXPECT_GE(w.at_ns, exact) << "seed " << seed << ": " << w.who << " woke early";
      EXPECT_LT(w.at_ns, exact + 20'000'000) << "seed " << seed << ": " << w.who;
      if (w.at_ns != exact) ++delayed;
    }
    const auto again = race(seed, 20ms);
    ASSERT_EQ(again.size(), wakes.size());
    for (size_t i = 0; i < wakes.size(); ++i) {
      EXPECT_EQ(again[i].who, wakes[i].who) << "seed " << seed;
      EXPECT_EQ(again[i].at_ns, wakes[i].at_ns) << "seed " << seed;
    }
  }
  EXPECT_GT(delayed, 50);
  EXPECT_LT(delayed, 350) << "about half the deadlines stay exact";
}

TEST(TimerPerturbation, CreatesTiesAndReordersDeadlinesWithinTheWindow) {
  int ties = 0;
  int timeout_first = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const auto wakes = race(seed, 20ms);
    ASSERT_EQ(wakes.size(), 2u);
    if (wakes[0].at_ns == wakes[1].at_ns) ++ties;
    if (wakes[0].who == "timeout") ++timeout_first;
  }
  EXPECT_GT(ties, 0);
  EXPECT_GT(timeout_first, 0) << "the 1 s deadline never fired before the 990 ms one";
}

}  // namespace
