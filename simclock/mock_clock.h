// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `trio::MockClock`: a virtual clock for tests (Trio's trio.testing.MockClock, spec §1.19, §2.10).
//
// Virtual time starts at 0 and moves only when you say so:
//   * `jump(d)` adds `d` at once;
//   * `set_rate(r)` makes it follow real time at `r` virtual seconds per real second (default 0:
//     frozen);
//   * `set_autojump_threshold(t)`: when every task has been blocked for `t` of *real* time, the
//     run jumps virtual time straight to the next deadline. With t = 0 (full simulation) a test
//     of hours of timeouts runs in microseconds and reads no real time at all — deterministic.
//
// Autojump follows Trio exactly: it jumps only to the next pending deadline, only when nothing
// is runnable, no I/O arrived, no deadline just expired, and no task is in
// wait_all_tasks_blocked (which takes priority).
//
// Example:
//   trio::MockClock clock;
//   clock.set_autojump_threshold(std::chrono::seconds(0));
//   trio::run(trio::RunOptions{.clock = &clock}, [&]() -> trio::Task<> {
//     co_await trio::sleep(std::chrono::hours(1));   // returns at once; current_time() == 1 h
//   });
//
// Errors: jump(negative) → ValueError("time can't go backwards"); set_rate(negative) →
// ValueError("rate must be >= 0"). Not thread-safe: use it from the run's thread.
#ifndef TRIO_SIMCLOCK_MOCK_CLOCK_H_
#define TRIO_SIMCLOCK_MOCK_CLOCK_H_

#include <chrono>
#include <cstdint>

#include "runtime/clock.h"
#include "runtime/time.h"

namespace trio {

class MockClock final : public Clock {
 public:
  MockClock() = default;
  // rate: virtual seconds per real second; threshold: as set_autojump_threshold.
  template <class Rep, class Period>
  MockClock(double rate, std::chrono::duration<Rep, Period> autojump_threshold) {
    set_rate(rate);
    set_autojump_threshold(autojump_threshold);
  }

  // Clock interface.
  TimePoint current_time() override;
  Duration deadline_to_sleep_time(TimePoint deadline) override;
  Duration autojump_threshold() const override { return autojump_threshold_; }
  void autojump(TimePoint next_deadline) override;

  // Moves virtual time forward by `d`.
  template <class Rep, class Period>
  void jump(std::chrono::duration<Rep, Period> d) {
    jump_ns(internal::to_duration(d, "time can't go backwards", true));
  }
  double rate() const { return rate_; }
  void set_rate(double rate);
  template <class Rep, class Period>
  void set_autojump_threshold(std::chrono::duration<Rep, Period> threshold) {
    autojump_threshold_ = internal::to_duration(threshold, "autojump_threshold");
  }

 private:
  void jump_ns(Duration d);
  int64_t real_now_ns() const;
  int64_t virtual_base_ns_ = 0;
  int64_t real_base_ns_ = 0;
  double rate_ = 0.0;
  Duration autojump_threshold_ = kInfDuration;
};

}  // namespace trio

#endif  // TRIO_SIMCLOCK_MOCK_CLOCK_H_
