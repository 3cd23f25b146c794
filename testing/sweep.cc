// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/sweep.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <utility>

#include "runtime/errors.h"
#include "runtime/lowlevel.h"
#include "runtime/run.h"
#include "simclock/mock_clock.h"

namespace trio::testing {
namespace {

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

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

bool parse_u64(const char* text, uint64_t* out) {
  if (text == nullptr) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') return false;
  *out = v;
  return true;
}

std::string current_test_name() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return "";
  return std::string(info->test_suite_name()) + "." + info->name();
}

std::string default_repro(uint64_t seed) {
  const std::string test = current_test_name();
  const std::string s = std::to_string(seed);
  if (const char* target = env("TEST_TARGET")) {
    std::string out = std::string("bazel test") + build_config_flag() + " " + target;
    if (!test.empty()) out += " --test_filter=" + test;
    return out + " --test_env=TRIO_SWEEP_SEED=" + s;
  }
  std::string exe = "path/to/binary";
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) exe.assign(buf, static_cast<size_t>(n));
  std::string out = "TRIO_SWEEP_SEED=" + s + " " + exe;
  if (!test.empty()) out += " --gtest_filter=" + test;
  return out;
}

// ---- Sharding: every sweep TEST runs in every shard ---------------------------------------------
//
// Under `shard_count = N` Bazel sets TEST_TOTAL_SHARDS / TEST_SHARD_INDEX for the test and also
// GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX, with which gtest runs each TEST in one shard only: a
// sweep inside would then run only that shard's share of its seeds, and the other shards none.
// So, before main() (whatever main() the binary uses), a binary that links the sweep and runs
// sharded takes the gtest variables away: every TEST runs in every shard, and each sweep() runs
// its shard's share of the seeds (sweep() reads TEST_*). A TEST that is not a sweep would then
// run once per shard and be counted N times, so the listener below fails it.

// Sweeps (honouring the environment) called by the running TEST.
int sweeps_in_current_test = 0;

class NonSweepTestInShardedTarget final : public ::testing::EmptyTestEventListener {
 public:
  explicit NonSweepTestInShardedTarget(uint64_t shards) : shards_(shards) {}
  void OnTestStart(const ::testing::TestInfo&) override { sweeps_in_current_test = 0; }
  // End events reach listeners in reverse order: this runs before gtest's printer, so the
  // failure is printed with the test and counted.
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (sweeps_in_current_test > 0 || info.result()->Skipped()) return;
    ADD_FAILURE() << "trio sweep: " << info.test_suite_name() << "." << info.name()
                  << " runs in a sharded test target (TEST_TOTAL_SHARDS=" << shards_
                  << ") but called no trio::testing::sweep(). In a target that links the sweep "
                     "library and has shard_count > 1, every TEST runs in every shard (so that "
                     "each sweep runs all its seeds across the shards), so this test runs "
                  << shards_
                  << " times. Move it to a target without shard_count (sharded targets may hold "
                     "sweep tests only).";
  }

 private:
  uint64_t shards_;
};

class ShardedSweepEnvironment final : public ::testing::Environment {
 public:
  explicit ShardedSweepEnvironment(uint64_t shards) : shards_(shards) {}
  void SetUp() override {
    ::testing::UnitTest::GetInstance()->listeners().Append(
        new NonSweepTestInShardedTarget(shards_));
  }

 private:
  uint64_t shards_;
};

bool take_sharding_from_gtest() {
  uint64_t total = 0;
  if (!parse_u64(env("TEST_TOTAL_SHARDS"), &total) || total <= 1) return false;
  unsetenv("GTEST_TOTAL_SHARDS");
  unsetenv("GTEST_SHARD_INDEX");
  // gtest documents registering a global environment from a static initializer.
  ::testing::AddGlobalTestEnvironment(new ShardedSweepEnvironment(total));
  return true;
}

[[maybe_unused]] const bool sharding_taken_from_gtest = take_sharding_from_gtest();

std::string sanitize(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
    if (!keep) c = '_';
  }
  return out;
}

}  // namespace

std::string run_seed(const Scenario& scenario, uint64_t seed, const SweepOptions& options) {
  MockClock clock;
  clock.set_autojump_threshold(Duration(0));
  ProgressBudget budget(options.max_virtual_time);
  RunOptions run_options{.clock = &clock, .seed = seed, .scheduling = options.scheduling};
  if (options.max_virtual_time != kInfDuration) run_options.instruments.push_back(&budget);
  const int64_t frames_before = lowlevel::live_frames();
  std::string what;
  try {
    trio::run(run_options, scenario);
  } catch (...) {
    what = "raised " + describe_tree(std::current_exception());
  }
  if (budget.exceeded()) what = budget.report();
  const int64_t leaked = lowlevel::live_frames() - frames_before;
  if (leaked != 0) {
    if (!what.empty()) what += "; ";
    what += std::to_string(leaked) + " coroutine frame(s) leaked";
  }
  return what;
}

std::string SweepReport::summary() const {
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.2f s, %.0f seeds/s", seconds,
                seconds > 0 ? static_cast<double>(seeds_run) / seconds : 0.0);
  std::string out = "trio sweep " + name + ": seeds " + std::to_string(first_seed) + ".." +
                    std::to_string(first_seed + seeds - 1);
  if (total_shards > 1) {
    out += " (shard " + std::to_string(shard_index + 1) + "/" + std::to_string(total_shards) + ")";
  }
  out += ", " + std::to_string(seeds_run) + " of " + std::to_string(seeds) + " seeds run in " +
         rate + ", " + std::to_string(failing_seeds) + " failing";
  if (!failures.empty()) out += ", first failing seed " + std::to_string(failures.front().seed);
  return out;
}

std::string SweepReport::to_string() const {
  std::string out = summary() + "\n";
  if (failures.empty()) return out;
  const SweepFailure& f = failures.front();
  out += "seed " + std::to_string(f.seed) + " " + f.what + "\nreproduce with: " + f.repro +
         "\ntrace of seed " + std::to_string(f.seed) + ":\n" + f.trace;
  return out;
}

SweepReport sweep(const Scenario& scenario, const SweepOptions& options) {
  using Steady = std::chrono::steady_clock;
  SweepReport report;
  report.name = options.name.empty() ? current_test_name() : options.name;
  if (report.name.empty()) report.name = "sweep";
  report.first_seed = options.first_seed;
  report.seeds = options.seeds;

  uint64_t only_seed = 0;
  bool single = false;
  if (options.use_environment) {
    ++sweeps_in_current_test;
    uint64_t total = 1;
    uint64_t index = 0;
    if (parse_u64(env("TEST_TOTAL_SHARDS"), &total) && total > 0 &&
        parse_u64(env("TEST_SHARD_INDEX"), &index) && index < total) {
      report.total_shards = total;
      report.shard_index = index;
    }
    if (const char* status = env("TEST_SHARD_STATUS_FILE")) std::ofstream touch(status);
    if (const char* s = env("TRIO_SWEEP_SEED")) {
      if (!parse_u64(s, &only_seed)) {
        std::fprintf(stderr, "trio sweep: ignoring malformed TRIO_SWEEP_SEED=%s\n", s);
      } else {
        single = true;
        report.first_seed = only_seed;
        report.seeds = 1;
      }
    }
  }
  const bool tty = isatty(2) != 0;
  const bool live = options.progress == SweepProgress::kAlways ||
                    (options.progress == SweepProgress::kAuto && tty);
  const auto repro = [&](uint64_t seed) {
    if (options.repro) return options.repro(seed);
    // Without the environment, TRIO_SWEEP_SEED would be ignored: name the call that runs it.
    if (!options.use_environment)
      return "trio::testing::run_seed(scenario, " + std::to_string(seed) + ")";
    return default_repro(seed);
  };

  const Steady::time_point start = Steady::now();
  Steady::time_point last_print = start;
  const uint64_t end = report.first_seed + report.seeds;
  uint64_t seed = report.first_seed + (single ? 0 : report.shard_index);
  const uint64_t step = single ? 1 : report.total_shards;
  if (single && report.shard_index != 0) seed = end;  // the one seed runs on shard 0
  const uint64_t mine = seed < end ? (end - seed + step - 1) / step : 0;  // this shard's seeds
  for (; seed < end; seed += step) {
    std::string what = run_seed(scenario, seed, options);
    ++report.seeds_run;
    if (!what.empty()) {
      ++report.failing_seeds;
      if (report.failures.size() < options.max_failures) {
        SweepFailure f;
        f.seed = seed;
        f.what = std::move(what);
        f.repro = repro(seed);
        ScenarioRun traced = run_scenario(scenario, {.seed = seed,
                                                     .scheduling = options.scheduling,
                                                     .max_virtual_time = options.max_virtual_time});
        f.trace = format_trace_tail(traced.trace, options.max_trace_lines);
        if (const char* dir = env("TEST_UNDECLARED_OUTPUTS_DIR")) {
          std::ofstream out(std::string(dir) + "/sweep-" + sanitize(report.name) + "-seed-" +
                            std::to_string(seed) + ".txt");
          out << "trio sweep " << report.name << ", seed " << seed << ": " << f.what
              << "\nreproduce with: " << f.repro << "\ntrace:\n"
              << format_trace(traced.trace);
        }
        report.failures.push_back(std::move(f));
      }
      if (options.stop_at_first_failure) break;
    }
    if (live && (report.seeds_run & 63) == 0) {
      const Steady::time_point now = Steady::now();
      if (now - last_print >= std::chrono::milliseconds(100)) {
        last_print = now;
        const double s = std::chrono::duration<double>(now - start).count();
        std::fprintf(stderr, "\rtrio sweep %s: %llu/%llu seeds run, %llu failing, %.0f seeds/s   ",
                     report.name.c_str(), static_cast<unsigned long long>(report.seeds_run),
                     static_cast<unsigned long long>(mine),
                     static_cast<unsigned long long>(report.failing_seeds),
                     s > 0 ? static_cast<double>(report.seeds_run) / s : 0.0);
      }
    }
  }
  report.seconds = std::chrono::duration<double>(Steady::now() - start).count();
  if (options.progress != SweepProgress::kQuiet) {
    std::fprintf(stderr, "%s%s\n", live ? "\r" : "", report.summary().c_str());
  }
  return report;
}

}  // namespace trio::testing
