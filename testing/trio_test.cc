// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// The TRIO_TEST runner: seed resolution, the run, failure reports with a repro line, and the
// leak check. Process-wide state here is limited to what main() sets once (the --trio_seed flag)
// and the per-thread pointer to the running test; nothing survives from one run to the next.
#include "testing/trio_test.h"

#include <errno.h>  // program_invocation_name (glibc)

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "testing/exceptions.h"

ABSL_FLAG(trio::testing::internal::SeedFlag, trio_seed, {},
          "Runs every TRIO_TEST with this seed (a decimal number < 2^64); overrides the TRIO_SEED "
          "environment variable and the per-test default seed.");

namespace trio::testing {

namespace {

// The running TRIO_TEST of this thread (null outside a body).
struct CurrentTest {
  uint64_t seed;
  MockClock* clock;  // null on the real clock
};
thread_local const CurrentTest* current_test = nullptr;

// Whether parse_flags ran (i.e. main is trio_test_main).
bool flags_parsed = false;

constexpr const char kSeedEnv[] = "TRIO_SEED";

// A decimal uint64, the whole string; nullopt otherwise.
std::optional<uint64_t> parse_seed(absl::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// True if the process's command line has an argument starting with "--trio_" (read from
// /proc/self/cmdline, for binaries whose main() is not trio_test_main and so ignores it).
bool command_line_has_trio_flag() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream args(all);
  for (std::string arg; std::getline(args, arg, '\0');)
    if (arg.rfind("--trio_", 0) == 0) return true;
  return false;
}

// The --config that built this binary, as far as the compiler tells (see .bazelrc).
const char* build_config_flag() {
#if defined(__clang__)
  return " --config=clang";
#elif defined(__SANITIZE_ADDRESS__)
  return " --config=asan";
#elif defined(__SANITIZE_THREAD__)
  return " --config=tsan";
#else
  return "";
#endif
}

// Reports the body's escaped exception as a fatal failure at the TRIO_TEST line.
void report_exception(const internal::TestSite& site, const std::exception_ptr& e) {
  GTEST_FAIL_AT(site.file, site.line) << "TRIO_TEST body raised " << describe_exception(e);
}

}  // namespace

uint64_t test_seed() {
  if (!current_test) throw RuntimeError("trio::testing::test_seed() called outside a TRIO_TEST");
  return current_test->seed;
}

MockClock& mock_clock() {
  if (!current_test) throw RuntimeError("trio::testing::mock_clock() called outside a TRIO_TEST");
  if (!current_test->clock)
    throw RuntimeError("trio::testing::mock_clock(): this TRIO_TEST runs on the real clock");
  return *current_test->clock;
}

uint64_t default_seed(const std::string& suite, const std::string& name) {
  // FNV-1a, 64 bits, folded to 32 so that default seeds stay short in repro lines.
  uint64_t hash = 14695981039346656037ull;
  for (char c : suite + "." + name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return (hash ^ (hash >> 32)) & 0xffffffffull;
}

namespace internal {

std::optional<uint64_t> resolve_seed(const TestSite& site, std::string* error) {
  if (std::optional<uint64_t> seed = absl::GetFlag(FLAGS_trio_seed).seed) return seed;
  if (!flags_parsed && command_line_has_trio_flag()) {
    *error =
        "a --trio_ flag was given, but this test binary's main() does not parse it: link "
        "//testing:trio_test_main instead of gtest_main, or set TRIO_SEED in the environment";
    return std::nullopt;
  }
  if (const char* env = std::getenv(kSeedEnv); env && *env) {
    std::optional<uint64_t> seed = parse_seed(env);
    if (!seed)
      *error = absl::StrCat("TRIO_SEED='", env, "' is not a seed (a decimal number < 2^64)");
    return seed;
  }
  return default_seed(site.suite, site.name);
}

std::string repro_command(const std::string& suite, const std::string& name, uint64_t seed) {
  if (const char* target = std::getenv("TEST_TARGET"); target && *target) {
    return absl::StrCat("bazel test", build_config_flag(), " ", target, " --test_filter=", suite,
                        ".", name, " --test_env=", kSeedEnv, "=", seed);
  }
  return absl::StrCat(kSeedEnv, "=", seed, " ", program_invocation_name, " --gtest_filter=", suite,
                      ".", name);
}

namespace {
std::string bad_seed_message(absl::string_view text) {
  return absl::StrCat("bad --trio_seed=", text, ": the seed must be a decimal number < 2^64");
}
}  // namespace

bool AbslParseFlag(absl::string_view text, SeedFlag* flag, std::string* error) {
  if (text.empty()) {  // unset: the default's spelling (check_trio_flags rejects --trio_seed=)
    flag->seed = std::nullopt;
    return true;
  }
  flag->seed = parse_seed(text);
  if (!flag->seed) *error = bad_seed_message(text);
  return flag->seed.has_value();
}

std::string AbslUnparseFlag(const SeedFlag& flag) {
  return flag.seed ? absl::StrCat(*flag.seed) : "";
}

bool check_trio_flags(int argc, char** argv, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;  // the rest is positional, for absl too
    absl::string_view name = arg;
    if (!absl::ConsumePrefix(&name, "--")) absl::ConsumePrefix(&name, "-");
    if (!absl::StartsWith(name, "trio_")) continue;
    const size_t equals = name.find('=');
    const absl::string_view value =
        equals == absl::string_view::npos ? absl::string_view() : name.substr(equals + 1);
    name = name.substr(0, equals);
    if (absl::FindCommandLineFlag(name) == nullptr) {
      *error =
          absl::StrCat("unknown flag ", arg, " (trio's test flags: --trio_seed=N; see --help)");
      return false;
    }
    if (equals == absl::string_view::npos) {
      *error = absl::StrCat("flag ", arg, " needs a value: --", name, "=...");
      return false;
    }
    // Every --trio_ flag but --trio_seed is absl's to check; only the seed's errors must name
    // the argument (see //testing:repro_test).
    if (name == "trio_seed" && !parse_seed(value)) {
      *error = bad_seed_message(value);
      return false;
    }
  }
  return true;
}

bool parse_flags(int* argc, char** argv, std::string* error) {
  if (!check_trio_flags(*argc, argv, error)) return false;
  flags_parsed = true;
  const std::vector<char*> rest = absl::ParseCommandLine(*argc, argv);
  *argc = static_cast<int>(rest.size());
  std::copy(rest.begin(), rest.end(), argv);
  argv[*argc] = nullptr;
  return true;
}

std::optional<uint64_t> set_seed_flag(std::optional<uint64_t> seed) {
  SeedFlag old = absl::GetFlag(FLAGS_trio_seed);
  absl::SetFlag(&FLAGS_trio_seed, SeedFlag{seed});
  return old.seed;
}

void run_test_body(const TestSite& site, const TestOptions& options,
                   const std::function<Task<>()>& body) {
  std::string seed_error;
  std::optional<uint64_t> seed = resolve_seed(site, &seed_error);
  if (!seed) {
    GTEST_FAIL_AT(site.file, site.line) << seed_error;
    return;
  }
  ::testing::Test::RecordProperty("trio_seed", absl::StrCat(*seed));
  // Every failure inside this scope (the run and the leak check) carries the repro line.
  ::testing::ScopedTrace trace(site.file, site.line,
                               absl::StrCat("trio seed ", *seed, "; reproduce with: ",
                                            repro_command(site.suite, site.name, *seed)));

  MockClock clock;
  clock.set_autojump_threshold(Duration(0));
  const CurrentTest test{*seed, options.real_clock ? nullptr : &clock};
  const CurrentTest* const outer = std::exchange(current_test, &test);
  const int64_t frames_before = lowlevel::live_frames();
  try {
    trio::run(RunOptions{.clock = options.real_clock ? nullptr : &clock,
                         .seed = *seed,
                         .scheduling = options.scheduling},
              body);
  } catch (...) {
    report_exception(site, std::current_exception());
  }
  current_test = outer;

  const int64_t frames_after = lowlevel::live_frames();
  if (frames_after > frames_before) {
    ADD_FAILURE_AT(site.file, site.line)
        << "TRIO_TEST leaked " << frames_after - frames_before
        << " coroutine frame(s): trio::lowlevel::live_frames() was " << frames_before
        << " before the run and " << frames_after
        << " after it (a Task that was created but never awaited nor destroyed?)";
  } else if (frames_after < frames_before) {
    ADD_FAILURE_AT(site.file, site.line)
        << "TRIO_TEST destroyed " << frames_before - frames_after
        << " coroutine frame(s) created before its run: trio::lowlevel::live_frames() was "
        << frames_before << " before the run and " << frames_after << " after it";
  }
}

}  // namespace internal
}  // namespace trio::testing
