// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/sweep.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "runtime/cancel_scope.h"
#include "runtime/errors.h"
#include "runtime/internal/task_record.h"
#include "runtime/lowlevel.h"
#include "runtime/run.h"
#include "simclock/mock_clock.h"
#include "testing/choices.h"
#include "testing/trace.h"

namespace trio::testing {
namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

// A number in an environment variable: optional leading whitespace, an optional '+', decimal
// digits, nothing after them. A '-' is refused (strtoull would wrap " -5" around to 2^64 - 5).
// absl::SimpleAtoi also takes trailing whitespace, so the last character must be a digit.
bool parse_u64(const char* text, uint64_t* out) {
  if (text == nullptr) return false;
  const absl::string_view s(text);
  uint64_t v = 0;
  if (s.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(s.back())) ||
      !absl::SimpleAtoi(s, &v))
    return false;
  *out = v;
  return true;
}

std::string current_test_name() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return "";
  return absl::StrCat(info->test_suite_name(), ".", info->name());
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

// ---- One run -----------------------------------------------------------------------------------

constexpr uint64_t kNoPoint = UINT64_MAX;

// What one run is: the seed's decisions or replayed choices, and an injected cancellation.
struct RunSpec {
  uint64_t seed = 0;
  const std::vector<uint64_t>* choices = nullptr;  // replayed instead of the seed's decisions
  std::optional<uint64_t> cancel_point{};
  size_t cancel_scope = 0;
  bool traced = false;  // record the trace and the choices (for a report)
};

struct RunOutcome {
  std::string what;  // "" = passed
  CancelInjector injector{kNoPoint, 0, CancelTarget::kInnermost};
  Trace trace;
  uint64_t hash = 0;
  std::vector<Choice> choices;
};

bool is_cancelled(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const Cancelled&) {
    return true;
  } catch (...) {
    return false;
  }
}

// One run of the sweep: the schedule, an injected cancellation, timer perturbation, the
// livelock budget, the leak check and the invariants. Untraced, the seed's Prng is the run's
// choice source itself (the runtime's fast path); traced, a recording source draws the same
// decisions.
RunOutcome run_one(const Scenario& scenario, const SweepOptions& o, const RunSpec& spec) {
  RunOutcome out;
  MockClock clock;
  clock.set_autojump_threshold(Duration(0));
  Prng prng(spec.seed);
  std::optional<RecordingChoiceSource> recording;
  std::optional<ReplayChoiceSource> replaying;
  ChoiceSource* source = &prng;
  const LoggingChoiceSource* log = nullptr;
  if (spec.choices) {
    source = &replaying.emplace(*spec.choices);
    log = &*replaying;
  } else if (spec.traced) {
    source = &recording.emplace(spec.seed);
    log = &*recording;
  }
  TraceRecorder recorder;
  ProgressBudget budget(o.max_virtual_time);
  RunOptions run_options{.clock = &clock};
  if (spec.traced) run_options.instruments.push_back(&recorder);
  if (o.max_virtual_time != kInfDuration) run_options.instruments.push_back(&budget);
  ScheduleSetup setup(o.schedule, *source, o.pct);
  setup.apply(run_options);
  run_options.timer_perturbation_window = o.timer_perturbation;
  const bool injecting = spec.cancel_point.has_value();
  out.injector = CancelInjector(spec.cancel_point.value_or(kNoPoint), spec.cancel_scope,
                                injecting && o.cancellation.target != CancelTarget::kOutermost
                                    ? CancelTarget::kEach
                                    : o.cancellation.target);
  if (o.cancellation.enabled || injecting) run_options.cancel_point_hook = &out.injector;

  const int64_t frames_before = lowlevel::live_frames();
  std::exception_ptr error;
  try {
    trio::run(run_options, [&scenario] { return scenario(); });  // a Scenario is move-only
  } catch (...) {
    error = std::current_exception();
  }
  auto add = [&out](const std::string& line) {
    if (line.empty()) return;
    if (!out.what.empty()) out.what += "; ";
    out.what += line;
  };
  // With an injected cancellation, an expected error passes (Cancelled never does).
  if (error && !(injecting && !is_cancelled(error) && o.cancellation.expected_error &&
                 o.cancellation.expected_error(error))) {
    add(absl::StrCat("raised ", describe_tree(error)));
  }
  // What the run raised after the budget cancelled it is a consequence, not the failure.
  if (budget.exceeded()) out.what = budget.report();
  const int64_t leaked = lowlevel::live_frames() - frames_before;
  if (leaked != 0) add(absl::StrCat(leaked, " coroutine frame(s) leaked"));
  if (o.invariants) add(o.invariants());
  if (spec.traced) {
    recorder.note(out.what.empty() ? "run returned" : absl::StrCat("run raised ", out.what));
    out.trace = recorder.trace();
    out.hash = recorder.hash();
    out.choices = log->choices();
  }
  return out;
}

// The options with a token's exploration in place of theirs.
SweepOptions with_token(const SweepOptions& options, const ReplayToken& token) {
  SweepOptions o = options;
  o.schedule = token.schedule;
  o.pct = token.pct;
  o.timer_perturbation = token.timer_perturbation;
  return o;
}

// The token of one run of a sweep with options `o`.
ReplayToken token_of(const SweepOptions& o, uint64_t seed, std::optional<uint64_t> cancel_point,
                     size_t cancel_scope) {
  ReplayToken t;
  t.seed = seed;
  t.schedule = o.schedule;
  if (o.schedule == Schedule::kPct) t.pct = o.pct;
  t.cancel_point = cancel_point;
  t.cancel_scope = cancel_point ? cancel_scope : 0;
  t.timer_perturbation = o.timer_perturbation;
  return t;
}

// The failure of a run that failed untraced: re-run traced (the same run) for the report.
SweepFailure describe_failure(const Scenario& scenario, const SweepOptions& o, RunSpec spec,
                              std::string what) {
  spec.traced = true;
  RunOutcome traced = run_one(scenario, o, spec);
  SweepFailure f;
  f.seed = spec.seed;
  f.what = std::move(what);
  if (spec.cancel_point) {
    f.cancel_point = spec.cancel_point;
    f.cancel_task = traced.injector.reached ? traced.injector.task_name
                                            : "(point not reached: nondeterministic scenario?)";
    f.cancel_scope = traced.injector.chosen_scope;
    f.scope_count = traced.injector.scope_count;
  }
  f.token = token_of(o, spec.seed, spec.cancel_point, f.cancel_scope);
  if (spec.choices) {
    f.token.seed.reset();
    f.token.choices = *spec.choices;
  }
  f.choices = format_choices(traced.choices);
  f.hash = traced.hash;
  f.trace = format_report_trace(traced.trace, o.max_trace_lines);
  return f;
}

std::string scope_text(size_t index, size_t count) {
  if (count == 0) return "no scope";
  if (count == 1) return "its only scope";
  return absl::StrCat("scope ", index, " of ", count, index == 0 ? " (innermost)" : "",
                      index + 1 == count ? " (outermost)" : "");
}

// "seed 7" or "seed 7, cancel point 4 (task main.2, cancelling its only scope)".
std::string run_name(const SweepFailure& f) {
  std::string out = absl::StrCat("seed ", f.seed);
  if (f.cancel_point) {
    absl::StrAppend(&out, ", cancel point ", *f.cancel_point, " (task ", f.cancel_task,
                    ", cancelling ", scope_text(f.cancel_scope, f.scope_count), ")");
  }
  return out;
}

std::string exploration_text(const SweepOptions& o) {
  std::vector<std::string> items;
  if (o.schedule == Schedule::kPct) {
    items.push_back(absl::StrCat("pct depth ", o.pct.depth, " steps ", o.pct.max_steps));
  } else if (o.schedule != Schedule::kCoinFlip) {
    items.push_back(absl::StrCat(schedule_name(o.schedule), " schedule"));
  }
  if (o.cancellation.enabled) {
    items.push_back(o.cancellation.max_points == 0
                        ? std::string("a cancellation at every cancel point")
                        : absl::StrCat("a cancellation at up to ", o.cancellation.max_points,
                                       " cancel points per seed"));
  }
  if (o.timer_perturbation > Duration(0)) {
    const int64_t ns = o.timer_perturbation.count();
    items.push_back(ns % 1'000'000 == 0
                        ? absl::StrCat("timers perturbed by < ", ns / 1'000'000, " ms")
                        : absl::StrCat("timers perturbed by < ", ns, " ns"));
  }
  return absl::StrJoin(items, ", ");
}

// The cancel points to explore in a run that reached `count` of them.
std::vector<uint64_t> points_to_explore(uint64_t count, size_t max_points, uint64_t seed) {
  std::vector<uint64_t> points(count);
  for (uint64_t k = 0; k < count; ++k) points[k] = k;
  if (max_points != 0 && points.size() > max_points) {
    Prng rng(seed ^ 0x63616e63656cull);        // "cancel": not the run's own stream
    for (size_t i = 0; i < max_points; ++i) {  // partial Fisher-Yates
      const size_t j = i + static_cast<size_t>(rng.choose(points.size() - i, ChoiceKind::kUser));
      std::swap(points[i], points[j]);
    }
    points.resize(max_points);
    std::sort(points.begin(), points.end());
  }
  return points;
}

}  // namespace

std::string run_seed(const Scenario& scenario, uint64_t seed, const SweepOptions& options) {
  return run_one(scenario, options, {.seed = seed}).what;
}

SweepFailure replay_token(const Scenario& scenario, const ReplayToken& token,
                          const SweepOptions& options) {
  const SweepOptions o = with_token(options, token);
  RunSpec spec{.seed = token.seed.value_or(0),
               .choices = token.choices ? &*token.choices : nullptr,
               .cancel_point = token.cancel_point,
               .cancel_scope = token.cancel_scope};
  std::string what = run_one(scenario, o, spec).what;
  SweepFailure f = describe_failure(scenario, o, spec, what);
  f.token = token;
  return f;
}

std::string SweepReport::summary() const {
  std::string out = absl::StrCat("trio sweep ", name, ": ");
  if (!replayed.empty()) {
    absl::StrAppend(&out, "replaying TRIO_REPLAY=", replayed);
  } else if (seeds == 0) {
    absl::StrAppend(&out, "no seeds");
  } else {
    absl::StrAppend(&out, "seeds ", first_seed, "..", first_seed + seeds - 1);
  }
  if (total_shards > 1) absl::StrAppend(&out, " (shard ", shard_index + 1, "/", total_shards, ")");
  if (!exploration.empty()) absl::StrAppend(&out, ", ", exploration);
  absl::StrAppend(&out, ", ", seeds_run, " of ", seeds, " seeds run");
  if (runs != seeds_run) absl::StrAppend(&out, " (", runs, " runs)");
  absl::StrAppendFormat(&out, " in %.2f s, %.0f seeds/s, %d failing", seconds,
                        seconds > 0 ? static_cast<double>(seeds_run) / seconds : 0.0,
                        failing_seeds);
  if (!failures.empty()) absl::StrAppend(&out, ", first failing seed ", failures.front().seed);
  return out;
}

std::string SweepReport::to_string() const {
  std::string out = absl::StrCat(summary(), "\n");
  if (failures.empty()) return out;
  const SweepFailure& f = failures.front();
  absl::StrAppend(&out, run_name(f), " ", f.what, "\nreproduce with: ", f.repro, "\nchoices: \"",
                  f.choices, "\" (trace hash ", format_hash(f.hash), ")\ntrace of seed ", f.seed,
                  ":\n", f.trace);
  return out;
}

SweepReport sweep(const Scenario& scenario, const SweepOptions& options) {
  using Steady = std::chrono::steady_clock;
  SweepReport report;
  report.name = options.name.empty() ? current_test_name() : options.name;
  if (report.name.empty()) report.name = "sweep";
  report.first_seed = options.first_seed;
  report.seeds = options.seeds;
  SweepOptions o = options;

  std::optional<ReplayToken> token;
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
    std::string token_error;
    token = replay_token_from_environment(&token_error);
    if (!token_error.empty()) {
      // Run nothing else: a mistyped token must not pass as a green sweep.
      report.failing_seeds = 1;
      SweepFailure f;
      f.what = token_error;
      f.repro = "(fix the token)";
      report.failures.push_back(std::move(f));
      report.seeds = 0;
      std::fprintf(stderr, "trio sweep %s: %s\n", report.name.c_str(), token_error.c_str());
      return report;
    }
    if (token) {
      o = with_token(options, *token);
      report.replayed = format_replay_token(*token);
      single = true;
      only_seed = token->seed.value_or(0);
      report.first_seed = only_seed;
      report.seeds = 1;
    } else if (const char* s = env("TRIO_SWEEP_SEED")) {
      if (!parse_u64(s, &only_seed)) {
        std::fprintf(stderr, "trio sweep: ignoring malformed TRIO_SWEEP_SEED=%s\n", s);
      } else {
        single = true;
        report.first_seed = only_seed;
        report.seeds = 1;
      }
    }
  }
  report.exploration = exploration_text(o);
  const bool tty = isatty(2) != 0;
  const bool live =
      o.progress == SweepProgress::kAlways || (o.progress == SweepProgress::kAuto && tty);
  const auto repro = [&](const SweepFailure& f) {
    if (o.repro) return o.repro(f.seed);
    // Without the environment, TRIO_REPLAY would be ignored: name the call that runs it.
    if (!o.use_environment) {
      if (report.exploration.empty() && !f.cancel_point)
        return absl::StrCat("trio::testing::run_seed(scenario, ", f.seed, ")");
      return absl::StrCat(
          "trio::testing::replay_token(scenario, *trio::testing::parse_replay_token(\"",
          format_replay_token(f.token), "\"), options)");
    }
    return replay_command(f.token);
  };
  // Records a failing run; returns true if the sweep should stop.
  const auto failed = [&](const RunSpec& spec, std::string what) {
    ++report.failing_seeds;
    if (report.failures.size() < o.max_failures) {
      SweepFailure f = describe_failure(scenario, o, spec, std::move(what));
      if (token) f.token = *token;
      f.repro = repro(f);
      if (const char* dir = env("TEST_UNDECLARED_OUTPUTS_DIR")) {
        std::string file = absl::StrCat(dir, "/sweep-", sanitize(report.name), "-seed-", f.seed);
        if (f.cancel_point) absl::StrAppend(&file, "-point-", *f.cancel_point);
        std::ofstream out(absl::StrCat(file, ".txt"));
        out << "trio sweep " << report.name << ", " << run_name(f) << ": " << f.what
            << "\nreproduce with: " << f.repro << "\nchoices: \"" << f.choices << "\"\ntrace:\n"
            << f.trace;
      }
      report.failures.push_back(std::move(f));
    }
    return o.stop_at_first_failure;
  };

  const Steady::time_point start = Steady::now();
  Steady::time_point last_print = start;
  const uint64_t end = report.first_seed + report.seeds;
  uint64_t seed = report.first_seed + (single ? 0 : report.shard_index);
  const uint64_t step = single ? 1 : report.total_shards;
  if (single && report.shard_index != 0) seed = end;  // the one run is shard 0's
  const uint64_t mine = seed < end ? (end - seed + step - 1) / step : 0;  // this shard's seeds
  bool stop = false;
  for (; seed < end && !stop; seed += step) {
    ++report.seeds_run;
    if (token) {  // the one run the token describes
      ++report.runs;
      RunSpec spec{.seed = only_seed,
                   .choices = token->choices ? &*token->choices : nullptr,
                   .cancel_point = token->cancel_point,
                   .cancel_scope = token->cancel_scope};
      std::string what = run_one(scenario, o, spec).what;
      if (!what.empty()) failed(spec, std::move(what));
      break;
    }
    RunOutcome baseline = run_one(scenario, o, {.seed = seed});
    ++report.runs;
    if (!baseline.what.empty()) {
      stop = failed({.seed = seed}, std::move(baseline.what));
    } else if (o.cancellation.enabled) {
      // Cancellation exploration: up to point k each run is the baseline, decision for decision.
      for (uint64_t k :
           points_to_explore(baseline.injector.count, o.cancellation.max_points, seed)) {
        size_t scope_count = 1;
        for (size_t s = 0; s < scope_count && !stop; ++s) {
          const RunSpec spec{.seed = seed, .cancel_point = k, .cancel_scope = s};
          RunOutcome run = run_one(scenario, o, spec);
          ++report.runs;
          if (o.cancellation.target == CancelTarget::kEach) scope_count = run.injector.scope_count;
          if (!run.what.empty()) stop = failed(spec, std::move(run.what));
        }
        if (stop) break;
      }
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
  if (o.progress != SweepProgress::kQuiet) {
    std::fprintf(stderr, "%s%s\n", live ? "\r" : "", report.summary().c_str());
  }
  return report;
}

}  // namespace trio::testing
