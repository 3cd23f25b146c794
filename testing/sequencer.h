// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `trio::testing::Sequencer` (Trio's trio.testing.Sequencer): forces a chosen interleaving of
// several tasks, for tests that need "A does this, then B does that, then A again".
//
//   trio::testing::Sequencer seq;
//   // in task A:                                   // in task B:
//   co_await seq.run(0, [&]() -> Task<> {...});     co_await seq.run(1, [&]() -> Task<> {...});
//   co_await seq.run(2, [&]() -> Task<> {...});
//
// `seq.run(n, body)` (Trio's `async with seq(n):`) waits until the body of position n - 1 has
// finished (position 0 does not wait), runs `body()` and returns its value; when the body exits,
// normally or not, position n + 1 may go. Each position is used once.
//
// Errors (Trio's RuntimeError messages, as trio::RuntimeError):
//   * a position used twice: "Attempted to reuse sequence point {n}";
//   * a task cancelled while it waits for its turn breaks the sequence: it gets "Sequencer wait
//     cancelled -- sequence broken" (the Cancelled is dropped, as Trio does), and every task
//     waiting for a turn, and every later run(), gets "sequence broken!".
//
// Checkpoints: waiting for a turn (n > 0) is a cancel point and a schedule point; position 0 is
// no checkpoint at all. The body's own checkpoints come on top.
//
// The Sequencer must outlive the tasks that use it (declare it before the nursery). Bodies return
// Task<T> and must be trivially destructible (capture by reference, `[&]`).
#ifndef TRIO_TESTING_SEQUENCER_H_
#define TRIO_TESTING_SEQUENCER_H_

#include <exception>
#include <map>
#include <optional>
#include <set>
#include <type_traits>
#include <utility>

#include "runtime/lowlevel.h"
#include "runtime/task.h"

namespace trio::testing {

class Sequencer {
 public:
  Sequencer() = default;
  Sequencer(const Sequencer&) = delete;
  Sequencer& operator=(const Sequencer&) = delete;

  template <class Body>
  auto run(int position, Body body) -> Task<typename std::invoke_result_t<Body&>::value_type>;

  // True once a cancelled waiter broke the sequence.
  bool broken() const { return broken_; }

 private:
  // One position's "go" signal: an Event built on a parking lot.
  struct Point {
    bool set = false;
    lowlevel::ParkingLot waiters;
  };

  // Claims `position` and waits for its turn (the part before Trio's `yield`).
  Task<> wait_turn(int position);
  // Lets position + 1 go (Trio's `finally`).
  void finish(int position);
  void set(Point& point);

  // Invariant: a position in claimed_ has been (or is being) run; each is run at most once.
  std::set<int> claimed_;
  // The positions' signals, created on first use. std::map: a Point never moves while a task is
  // parked in its lot.
  std::map<int, Point> points_;
  // Invariant: once true, every Point is set and every wait_turn raises.
  bool broken_ = false;
};

template <class Body>
auto Sequencer::run(int position, Body body)
    -> Task<typename std::invoke_result_t<Body&>::value_type> {
  static_assert(std::is_trivially_destructible_v<Body>,
                "trio: a body must be trivially destructible: capture by reference ([&]) "
                "(g++ 12 destroys the captures of a closure temporary in co_await twice)");
  using T = typename std::invoke_result_t<Body&>::value_type;
  co_await wait_turn(position);
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await body();
    } else {
      value.emplace(co_await body());
    }
  } catch (...) {
    error = std::current_exception();
  }
  finish(position);
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

}  // namespace trio::testing

#endif  // TRIO_TESTING_SEQUENCER_H_
