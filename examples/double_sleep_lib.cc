// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "examples/double_sleep_lib.h"

#include <chrono>

#include "absl/strings/str_format.h"

namespace examples {

// [START double_sleep]
trio::Task<> double_sleep(int x) { co_await trio::sleep(std::chrono::seconds(2 * x)); }
// [END double_sleep]

// The Python tutorial measures with time.time(); we read the run's clock instead, so that under a
// MockClock the printed time is the virtual time slept (exactly 6.00 for x = 3).
trio::Task<> rested_double_sleep(std::ostream& out, int x) {
  out << "*yawn* Going to sleep\n";
  const trio::TimePoint start_time = trio::current_time();

  co_await double_sleep(x);

  const double sleep_time = trio::to_seconds(trio::current_time() - start_time);
  out << "Woke up after " << absl::StrFormat("%.2f", sleep_time)
      << " seconds, feeling well rested!\n";
}

}  // namespace examples
