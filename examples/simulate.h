// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Test support for the examples: runs an example function on a MockClock (autojump threshold 0,
// so virtual time jumps to each deadline at once) with a fixed seed, and returns what it printed
// and how much virtual time passed. The example gets the output stream as its first argument.
//
//   examples::Simulated r = examples::simulate(examples::parent, {.seed = 7});
//   EXPECT_EQ(r.elapsed, std::chrono::seconds(1));
//   std::vector<std::string> lines = examples::split_lines(r.output);
#ifndef TRIO_EXAMPLES_SIMULATE_H_
#define TRIO_EXAMPLES_SIMULATE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

namespace examples {

struct SimulateOptions {
  uint64_t seed = 1;
  trio::SchedulingPolicy scheduling = trio::SchedulingPolicy::kCoinFlip;
};

struct Simulated {
  std::string output;      // everything the function printed
  trio::Duration elapsed;  // virtual time from the start to the end of the run
};

// Runs `fn(out, args...)` on a fresh MockClock, where `out` is a string stream. Exceptions from
// the run propagate.
template <class F, class... Args>
Simulated simulate(F fn, SimulateOptions options, Args... args) {
  trio::MockClock clock;
  clock.set_autojump_threshold(std::chrono::seconds(0));
  std::ostringstream out;
  trio::run(
      trio::RunOptions{.clock = &clock, .seed = options.seed, .scheduling = options.scheduling}, fn,
      std::ref(out), std::move(args)...);
  return {out.str(), clock.current_time().time_since_epoch()};
}

// The lines of `text`, without their '\n'.
inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace examples

#endif  // TRIO_EXAMPLES_SIMULATE_H_
