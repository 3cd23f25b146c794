// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "examples/tracer_lib.h"

#include <charconv>

namespace examples {

std::string format_seconds(trio::Duration duration) {
  // count / 1e9 is correctly rounded (431 ns prints as 4.31e-07); to_seconds multiplies by 1e-9.
  const double seconds = duration == trio::kInfDuration
                             ? trio::to_seconds(duration)
                             : static_cast<double>(duration.count()) / 1e9;
  char buffer[64];
  // std::to_chars without a format gives the shortest form that reads back to the same double,
  // as Python's repr(float) does; Python also marks a whole number as a float ("1.0").
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, seconds);
  if (error != std::errc()) return "?";
  std::string text(buffer, end);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";  // not 1e+20, inf or nan
  return text;
}

}  // namespace examples
