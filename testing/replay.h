// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Replay tokens and repro commands: every failure the testing layer reports (a sweep's seed,
// a PCT run, a shrunk property, a cancel point) comes with ONE shell command that replays it,
// and the run it replays is described by one token given through the environment:
//
//   bazel test --config=asan //pkg:my_test --test_filter=Suite.Name
//       --test_env=TRIO_REPLAY=seed=17:schedule=pct:depth=3:steps=100:cancel=4.0   (one line)
//
// The command names the build configuration of the failing binary (as far as the compiler tells:
// __SANITIZE_ADDRESS__ -> asan, __SANITIZE_THREAD__ -> tsan, __clang__ -> clang, __OPTIMIZE__
// -> opt; see .bazelrc), the test, and the token. Outside Bazel it is
// `TRIO_REPLAY=<token> path/to/binary --gtest_filter=Suite.Name`. The library reads
// TRIO_REPLAY itself (sweep(), check_property(), explore_cancellation()), so it works in any test
// binary whatever its main(): each of them then runs the one run the token describes instead of
// its search, and reports it the same way.
//
// The token is a list of key=value items separated by ':' (only characters a shell leaves
// alone; keys may come in any order; absent keys take their defaults):
//   seed=S              the run's seed (the decisions of trio::Prng(S))
//   choices=1,0x3,2     a choice string (choices.h, with 'x' for '*': "0x3" = three zeros),
//                       replayed instead of the seed's decisions
//   schedule=NAME       fifo, coin-flip (the default), shuffle, lifo or pct
//   depth=D, steps=N    PctOptions (with schedule=pct)
//   cancel=K.S          a cancellation at cancel point K, of enclosing scope S (0 = innermost)
//   timers=NS           timer perturbation window in nanoseconds (RunOptions::
//                       timer_perturbation_window)
//
//   ReplayToken t{.seed = 17, .schedule = Schedule::kPct, .cancel_point = 4};
//   std::string s = format_replay_token(t);   //
//   "seed=17:schedule=pct:depth=3:steps=100:cancel=4.0" std::optional<ReplayToken> back =
//   parse_replay_token(s);
#ifndef TRIO_TESTING_REPLAY_H_
#define TRIO_TESTING_REPLAY_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/time.h"
#include "testing/pct.h"

namespace trio::testing {

// One run, as the token describes it (see the file comment).
struct ReplayToken {
  std::optional<uint64_t> seed{};
  // Normalized choice values (choices.h); when set, replayed instead of the seed's decisions.
  std::optional<std::vector<uint64_t>> choices{};
  Schedule schedule = Schedule::kCoinFlip;
  PctOptions pct{};
  std::optional<uint64_t> cancel_point{};
  size_t cancel_scope = 0;
  Duration timer_perturbation = Duration(0);
  bool operator==(const ReplayToken&) const = default;
};

// The token's text (shell-safe: [A-Za-z0-9=:,.-]).
std::string format_replay_token(const ReplayToken& token);
// The inverse of format_replay_token; nullopt (with `*error` set, if given) if malformed.
std::optional<ReplayToken> parse_replay_token(std::string_view text, std::string* error = nullptr);

// The environment variable the library reads: "TRIO_REPLAY".
inline constexpr char kReplayEnv[] = "TRIO_REPLAY";
// The token in TRIO_REPLAY: nullopt when the variable is unset or empty. A malformed token
// sets `*error` (and returns nullopt): callers report it as a failure rather than run
// something else.
std::optional<ReplayToken> replay_token_from_environment(std::string* error);

// " --config=NAME" for the configuration that built this binary (see the file comment), or "".
std::string build_config_flag();

// The shell command that reruns the running gtest test (or, outside a test, the binary) with
// TRIO_REPLAY=<token>: a `bazel test` line under Bazel (TEST_TARGET set), else one that runs
// this binary.
std::string replay_command(const ReplayToken& token);

}  // namespace trio::testing

#endif  // TRIO_TESTING_REPLAY_H_
