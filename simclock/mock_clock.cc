// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "simclock/mock_clock.h"

#include <time.h>

#include <cmath>

#include "runtime/errors.h"

namespace trio {

// Real time is read only when rate > 0: a frozen clock (the simulation mode) never reads it.
int64_t MockClock::real_now_ns() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

TimePoint MockClock::current_time() {
  if (rate_ == 0.0) return time_point_from_ns(virtual_base_ns_);
  const double real_elapsed = static_cast<double>(real_now_ns() - real_base_ns_);
  return time_point_from_ns(virtual_base_ns_ + static_cast<int64_t>(rate_ * real_elapsed));
}

Duration MockClock::deadline_to_sleep_time(TimePoint deadline) {
  const TimePoint now = current_time();
  if (deadline <= now) return Duration(0);
  if (rate_ > 0) {
    const double virtual_ns = static_cast<double>(saturating_sub(deadline, now).count());
    const double real_ns = std::ceil(virtual_ns / rate_);
    if (real_ns >= 9.2e18) return kInfDuration;
    return Duration(static_cast<int64_t>(real_ns));
  }
  return std::chrono::seconds(999999999);
}

void MockClock::autojump(TimePoint next_deadline) {
  const TimePoint now = current_time();
  if (next_deadline > now && next_deadline != kInf) jump_ns(saturating_sub(next_deadline, now));
}

void MockClock::jump_ns(Duration d) {
  if (d < Duration(0)) throw ValueError("time can't go backwards");
  virtual_base_ns_ += d.count();
}

void MockClock::set_rate(double rate) {
  if (!(rate >= 0)) throw ValueError("rate must be >= 0");
  // Rebase so that virtual time is continuous.
  const int64_t now = current_time().time_since_epoch().count();
  virtual_base_ns_ = now;
  real_base_ns_ = rate > 0 ? real_now_ns() : 0;
  rate_ = rate;
}

}  // namespace trio
