// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Async GoogleTest tests: `TRIO_TEST` and friends run a test body that is a coroutine in a fresh
// `trio::run` on a virtual clock, with a seed, and check afterwards that nothing leaked.
//
//   #include "testing/trio_test.h"
//
//   TRIO_TEST(Timeouts, MoveOnAfterStopsASleeper) {
//     bool moved_on = co_await trio::move_on_after(5s, [&]() -> trio::Task<> {
//       co_await trio::sleep(1h);               // virtual time: returns at once
//     });
//     EXPECT_TRUE(moved_on);
//     EXPECT_EQ(trio::current_time(), trio::time_point_from_ns(5'000'000'000));
//   }
//
// Forms:
//   TRIO_TEST(Suite, Name)             a TEST whose body is a coroutine (`trio::Task<>`)
//   TRIO_TEST_F(Fixture, Name)         a TEST_F: the fixture's constructor, SetUp and TearDown
//                                      run outside the run; the body can use fixture members
//   TRIO_TEST_REALTIME(Suite, Name)    on the real clock (trio's SystemClock) instead
//   TRIO_TEST_F_REALTIME(Fixture, Name)
//   TRIO_TEST_WITH(Suite, Name, {.real_clock = ..., .scheduling = ...})   any TestOptions
//   TRIO_TEST_F_WITH(Fixture, Name, {...})
//
// Each body runs in its own `trio::run` with:
//   * a `MockClock` with autojump threshold 0 (virtual time starts at 0 and jumps to the next
//     deadline whenever every task is blocked), unless `real_clock` is set;
//   * the seed, which drives every scheduling decision: `--trio_seed=N` on the command line
//     (needs //testing:trio_test_main), else the `TRIO_SEED` environment variable, else a fixed
//     default per test — a hash of "Suite.Name" — so every run of a test is the same run unless
//     you ask for another one;
//   * deadlock detection on (a body that can never finish fails with the task tree).
//
// Failures. Every gtest failure raised while the body runs carries a trace line with the seed
// and one command that reproduces exactly that run:
//     trio seed 123; reproduce with: bazel test //pkg:target --test_filter=Suite.Name
//     --test_env=TRIO_SEED=123
// (the target comes from TEST_TARGET, which `bazel test` sets, plus --config=asan/tsan/clang
// when the binary was built that way; outside Bazel it is `TRIO_SEED=123 path/to/binary
// --gtest_filter=Suite.Name`). An exception escaping the body is a fatal failure naming its type
// and message, with the whole tree for an exception group. After the run, the harness checks
// that `trio::lowlevel::live_frames()` is back to its value before the run and reports the
// number of leaked coroutine frames otherwise. (Every task has exited: `trio::run` returning
// guarantees it.)
//
// Assertions. gtest's ASSERT_* macros `return`, which a coroutine cannot do: use the CO_ASSERT_*
// forms below in coroutines returning `trio::Task<>` (they `co_return`). Like ASSERT_* in a
// helper function, they leave only the coroutine they are written in, not the test. EXPECT_*
// works everywhere.
//
// Thread-safety: gtest's trace (and hence the seed line) is per thread; failures reported from
// other threads during the run do not carry it.
#ifndef TRIO_TESTING_TRIO_TEST_H_
#define TRIO_TESTING_TRIO_TEST_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

namespace trio::testing {

// How a TRIO_TEST body runs.
struct TestOptions {
  // Run on trio's SystemClock (real time) instead of an autojump MockClock.
  bool real_clock = false;
  // How each scheduler batch is ordered (RunOptions::scheduling).
  SchedulingPolicy scheduling = SchedulingPolicy::kCoinFlip;
};

// The seed of the TRIO_TEST running on this thread (for seeding the test's own randomness).
// RuntimeError outside a TRIO_TEST body.
uint64_t test_seed();

// The MockClock of the TRIO_TEST running on this thread (to jump() or change the autojump
// threshold). RuntimeError outside a TRIO_TEST body or in a real-clock test.
MockClock& mock_clock();

// The seed a test named `suite`.`name` gets when neither --trio_seed nor TRIO_SEED is given:
// a 32-bit hash of "suite.name" (FNV-1a), the same on every compiler and machine.
uint64_t default_seed(const std::string& suite, const std::string& name);

namespace internal {

// Where a TRIO_TEST is defined (filled in by the macros).
struct TestSite {
  const char* suite;
  const char* name;
  const char* file;
  int line;
};

// Runs `body()` as a TRIO_TEST: resolves the seed, runs it in a fresh trio::run as `options`
// says, reports failures with the seed and the repro line, and checks for leaked frames.
void run_test_body(const TestSite& site, const TestOptions& options,
                   const std::function<Task<>()>& body);

// The seed run_test_body uses for `site`, or nullopt with `*error` set when --trio_seed or
// TRIO_SEED is malformed (or --trio_seed was given to a binary without trio_test_main).
std::optional<uint64_t> resolve_seed(const TestSite& site, std::string* error);

// The one-line command that reruns `suite.name` with `seed` (see the file comment).
std::string repro_command(const std::string& suite, const std::string& name, uint64_t seed);

// The type of the --trio_seed Abseil flag: unset (spelled "", the default), or a decimal number
// < 2^64. (absl's own integer flags would also take "0x10": a seed has one spelling, the one
// repro lines print. On the command line, check_trio_flags rejects an empty --trio_seed=.)
struct SeedFlag {
  std::optional<uint64_t> seed;
};
bool AbslParseFlag(absl::string_view text, SeedFlag* flag, std::string* error);
std::string AbslUnparseFlag(const SeedFlag& flag);

// Checks the `--trio_` arguments of argv without consuming them: each must name a defined flag
// and carry a value, and --trio_seed's must be a seed. Returns false, with a message naming the
// argument in `*error`, otherwise. (absl::ParseCommandLine reports such errors too, but exits
// with 1 and without the argument's text; trio's flag errors exit with 2.)
bool check_trio_flags(int argc, char** argv, std::string* error);

// check_trio_flags, then absl::ParseCommandLine: parses and removes every Abseil flag
// (`--trio_seed=N`, `--help`, ...) from argv, leaving argv[0] and the positional arguments.
// Call after testing::InitGoogleMock (which removes gtest's and gMock's flags). Returns false,
// with a message in `*error`, for a malformed or unknown `--trio_` flag; absl exits the process
// itself for other bad flags (code 1) and after --help (code 1, as absl does). trio_test_main
// calls it.
bool parse_flags(int* argc, char** argv, std::string* error);

// Sets the --trio_seed override (for tests of the harness itself); returns the previous one.
std::optional<uint64_t> set_seed_flag(std::optional<uint64_t> seed);

}  // namespace internal
}  // namespace trio::testing

// ---- the test macros --------------------------------------------------------------------------

#define TRIO_TEST(Suite, Name) TRIO_TEST_IMPL_(Suite, Name, ::testing::Test, {})
#define TRIO_TEST_F(Fixture, Name) TRIO_TEST_IMPL_(Fixture, Name, Fixture, {})
#define TRIO_TEST_REALTIME(Suite, Name) \
  TRIO_TEST_IMPL_(Suite, Name, ::testing::Test, {.real_clock = true})
#define TRIO_TEST_F_REALTIME(Fixture, Name) \
  TRIO_TEST_IMPL_(Fixture, Name, Fixture, {.real_clock = true})
// The last argument initializes a trio::testing::TestOptions: `{.real_clock = true}`.
#define TRIO_TEST_WITH(Suite, Name, ...) TRIO_TEST_IMPL_(Suite, Name, ::testing::Test, __VA_ARGS__)
#define TRIO_TEST_F_WITH(Fixture, Name, ...) TRIO_TEST_IMPL_(Fixture, Name, Fixture, __VA_ARGS__)

// A test class deriving from `Parent` whose TestBody runs the coroutine member TrioTestBody_,
// registered with gtest's public RegisterTest under Parent's type id (so TEST_F and TRIO_TEST_F
// tests can share a fixture, and TEST and TRIO_TEST a suite). The macro ends with the
// coroutine's signature: the user's braces are its body.
#define TRIO_TEST_CLASS_(Suite, Name) Suite##_##Name##_TrioTest
#define TRIO_TEST_IMPL_(Suite, Name, Parent, ...)                                               \
  class TRIO_TEST_CLASS_(Suite, Name) : public Parent {                                         \
   public:                                                                                      \
    ::trio::Task<> TrioTestBody_();                                                             \
                                                                                                \
   private:                                                                                     \
    void TestBody() override {                                                                  \
      ::trio::testing::internal::run_test_body({#Suite, #Name, __FILE__, __LINE__},             \
                                               ::trio::testing::TestOptions(__VA_ARGS__),       \
                                               [this] { return TrioTestBody_(); });             \
    }                                                                                           \
  };                                                                                            \
  [[maybe_unused]] static ::testing::TestInfo* const Suite##_##Name##_trio_test_info_ =         \
      ::testing::RegisterTest(#Suite, #Name, nullptr, nullptr, __FILE__, __LINE__,              \
                              []() -> Parent* { return new TRIO_TEST_CLASS_(Suite, Name)(); }); \
  ::trio::Task<> TRIO_TEST_CLASS_(Suite, Name)::TrioTestBody_()

// ---- assertions for coroutines ------------------------------------------------------------------
//
// ASSERT_* for coroutines returning trio::Task<>: on failure they record a fatal failure and
// `co_return` from the coroutine they are in. Stream extra text with `<<` as with ASSERT_*.

#define TRIO_CO_FATAL_FAILURE_(message) \
  co_return GTEST_MESSAGE_(message, ::testing::TestPartResult::kFatalFailure)

#define CO_ASSERT_TRUE(condition) \
  GTEST_TEST_BOOLEAN_(condition, #condition, false, true, TRIO_CO_FATAL_FAILURE_)
#define CO_ASSERT_FALSE(condition) \
  GTEST_TEST_BOOLEAN_(!(condition), #condition, true, false, TRIO_CO_FATAL_FAILURE_)
#define CO_ASSERT_EQ(val1, val2) \
  GTEST_PRED_FORMAT2_(::testing::internal::EqHelper::Compare, val1, val2, TRIO_CO_FATAL_FAILURE_)
#define CO_ASSERT_NE(val1, val2) \
  GTEST_PRED_FORMAT2_(::testing::internal::CmpHelperNE, val1, val2, TRIO_CO_FATAL_FAILURE_)
#define CO_ASSERT_LT(val1, val2) \
  GTEST_PRED_FORMAT2_(::testing::internal::CmpHelperLT, val1, val2, TRIO_CO_FATAL_FAILURE_)
#define CO_ASSERT_LE(val1, val2) \
  GTEST_PRED_FORMAT2_(::testing::internal::CmpHelperLE, val1, val2, TRIO_CO_FATAL_FAILURE_)
#define CO_ASSERT_GT(val1, val2) \
  GTEST_PRED_FORMAT2_(::testing::internal::CmpHelperGT, val1, val2, TRIO_CO_FATAL_FAILURE_)
#define CO_ASSERT_GE(val1, val2) \
  GTEST_PRED_FORMAT2_(::testing::internal::CmpHelperGE, val1, val2, TRIO_CO_FATAL_FAILURE_)
// CO_ASSERT_THAT needs <gmock/gmock.h>.
#define CO_ASSERT_THAT(value, matcher)                                                        \
  GTEST_PRED_FORMAT1_(::testing::internal::MakePredicateFormatterFromMatcher(matcher), value, \
                      TRIO_CO_FATAL_FAILURE_)
#define CO_FAIL() TRIO_CO_FATAL_FAILURE_("Failed")

#endif  // TRIO_TESTING_TRIO_TEST_H_
