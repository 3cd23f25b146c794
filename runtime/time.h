// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Time in trio-cpp: the run's clock reads integer nanoseconds.
//
// Trio measures time in float seconds; trio-cpp uses `std::chrono` with integer nanoseconds
// so that virtual time is exact and simulation never depends on floating-point rounding.
//
//   trio::TimePoint  a point on the run's clock (`trio::current_time()`), which is *not* the OS
//                    clock: `SystemClock` adds a random offset, `MockClock` starts at 0.
//   trio::Duration   std::chrono::nanoseconds.
//   trio::kInf       "no deadline" (Trio's `math.inf`); trio::kNegInf is Trio's `-math.inf`.
//
// Every API that takes a duration accepts any `std::chrono::duration`. Floating-point durations
// are converted to nanoseconds rounding up (a timeout never fires early; floating-point noise
// below a thousandth of a nanosecond is ignored); an infinite one
// becomes "forever". NaN or negative durations throw `trio::ValueError`, as Trio's ValueError.
//
// Example:
//   co_await trio::sleep(std::chrono::milliseconds(10));
//   co_await trio::sleep(std::chrono::duration<double>(0.25));
//   trio::TimePoint t = trio::current_time() + std::chrono::seconds(1);
#ifndef TRIO_RUNTIME_TIME_H_
#define TRIO_RUNTIME_TIME_H_

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "runtime/errors.h"

namespace trio {

using Duration = std::chrono::nanoseconds;

// The tag type of trio's time points. Its `now()` is `trio::current_time()` (only inside a run).
struct RunClock {
  using duration = Duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<RunClock, Duration>;
  static constexpr bool is_steady = true;
  static time_point now();
};

using TimePoint = RunClock::time_point;

inline constexpr TimePoint kInf = TimePoint::max();
inline constexpr TimePoint kNegInf = TimePoint::min();
inline constexpr Duration kInfDuration = Duration::max();

// A time point from a count of nanoseconds on the run's clock.
constexpr TimePoint time_point_from_ns(int64_t ns) { return TimePoint(Duration(ns)); }

// `t + d`, saturating at kInf / kNegInf instead of overflowing. kInf + anything stays kInf.
constexpr TimePoint saturating_add(TimePoint t, Duration d) {
  if (t == kInf || d == kInfDuration) return kInf;
  if (t == kNegInf) return kNegInf;
  const int64_t a = t.time_since_epoch().count();
  const int64_t b = d.count();
  if (b > 0 && a > std::numeric_limits<int64_t>::max() - b) return kInf;
  if (b < 0 && a < std::numeric_limits<int64_t>::min() - b) return kNegInf;
  return TimePoint(Duration(a + b));
}

// `a - b` as a duration, saturating. kInf - finite = kInfDuration.
constexpr Duration saturating_sub(TimePoint a, TimePoint b) {
  if (a == kInf && b != kInf) return kInfDuration;
  if (a == kNegInf && b != kNegInf) return Duration::min();
  if (b == kInf) return Duration::min();
  if (b == kNegInf) return kInfDuration;
  const int64_t x = a.time_since_epoch().count();
  const int64_t y = b.time_since_epoch().count();
  if (y < 0 && x > std::numeric_limits<int64_t>::max() + y) return kInfDuration;
  if (y > 0 && x < std::numeric_limits<int64_t>::min() + y) return Duration::min();
  return Duration(x - y);
}

// Seconds as a double, for printing. kInf prints as inf.
inline double to_seconds(Duration d) {
  if (d == kInfDuration) return std::numeric_limits<double>::infinity();
  if (d == Duration::min()) return -std::numeric_limits<double>::infinity();
  return static_cast<double>(d.count()) * 1e-9;
}
inline double to_seconds(TimePoint t) {
  if (t == kInf) return std::numeric_limits<double>::infinity();
  if (t == kNegInf) return -std::numeric_limits<double>::infinity();
  return static_cast<double>(t.time_since_epoch().count()) * 1e-9;
}

namespace internal {

// Converts any chrono duration to nanoseconds: floating values round up, +inf becomes
// kInfDuration, and anything too large to represent saturates. `what` names the argument in the
// error ("`seconds`", "timeout"). Throws ValueError for NaN or (when !allow_negative) negatives.
template <class Rep, class Period>
Duration to_duration(std::chrono::duration<Rep, Period> d, const char* what,
                     bool allow_negative = false) {
  if constexpr (std::is_floating_point_v<Rep>) {
    const long double secs = static_cast<long double>(d.count()) *
                             static_cast<long double>(Period::num) /
                             static_cast<long double>(Period::den);
    if (std::isnan(secs)) throw ValueError(absl::StrCat(what, " must not be NaN"));
    if (secs < 0 && !allow_negative) throw ValueError(absl::StrCat(what, " must be non-negative"));
    // Round up (a timeout never fires early) — but a value within a thousandth of a nanosecond
    // of an integer is taken as that integer, so binary floating-point noise (0.8 s is
    // 0.8000000000000000444 s as a double) does not add a nanosecond.
    const long double exact = secs * 1e9L;
    const long double nearest = std::round(exact);
    const long double ns = std::fabs(exact - nearest) < 1e-3L ? nearest : std::ceil(exact);
    if (ns >= static_cast<long double>(std::numeric_limits<int64_t>::max())) return kInfDuration;
    if (ns <= static_cast<long double>(std::numeric_limits<int64_t>::min())) return Duration::min();
    return Duration(static_cast<int64_t>(ns));
  } else {
    if (d.count() < 0 && !allow_negative)
      throw ValueError(absl::StrCat(what, " must be non-negative"));
    // Integer durations: convert with saturation (e.g. hours::max()).
    using Wide = std::chrono::duration<long double, Period>;
    const long double ns =
        std::chrono::duration_cast<std::chrono::duration<long double, std::nano>>(
            Wide(static_cast<long double>(d.count())))
            .count();
    if (ns >= static_cast<long double>(std::numeric_limits<int64_t>::max())) return kInfDuration;
    if (ns <= static_cast<long double>(std::numeric_limits<int64_t>::min())) return Duration::min();
    return std::chrono::duration_cast<Duration>(d);
  }
}

}  // namespace internal
}  // namespace trio

#endif  // TRIO_RUNTIME_TIME_H_
