// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/property.h"

#include <rapidcheck.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/lowlevel.h"
#include "runtime/run.h"
#include "simclock/mock_clock.h"
#include "testing/exceptions.h"
#include "testing/replay.h"

namespace trio::testing {
namespace {

// Forwards to another source and logs (normalized) what it returned.
class Logged final : public LoggingChoiceSource {
 public:
  explicit Logged(ChoiceSource& inner) : inner_(inner) {}
  uint64_t choose(uint64_t n, ChoiceKind kind) override {
    return record(n, kind, normalize_choice(n, kind, inner_.choose(n, kind)));
  }

 private:
  ChoiceSource& inner_;
};

// Every decision drawn through rapidcheck (inside a property only).
class RapidcheckChoiceSource final : public ChoiceSource {
 public:
  uint64_t choose(uint64_t n, ChoiceKind kind) override {
    if (n <= 1) return 0;
    return denormalize_choice(n, kind,
                              *rc::gen::resize(rc::kNominalSize, rc::gen::inRange<uint64_t>(0, n)));
  }
};

// Notes how many events the recorder holds at each wait between batches until the budget runs
// out: installed before the budget, it sees the count before the budget's cancellation.
class BudgetWatch final : public Instrument {
 public:
  BudgetWatch(const TraceRecorder& recorder, const ProgressBudget& budget)
      : recorder_(recorder), budget_(budget) {}
  void after_io_wait(Duration timeout) override {
    (void)timeout;
    if (!budget_.exceeded()) events_ = recorder_.event_count();
  }
  size_t events() const { return static_cast<size_t>(events_); }

 private:
  const TraceRecorder& recorder_;
  const ProgressBudget& budget_;
  uint64_t events_ = 0;
};

}  // namespace

ScheduleRun run_with_choices(const Scenario& scenario, ChoiceSource& source,
                             const ExploreOptions& options) {
  Logged logged(source);
  ScheduleSetup setup(options.schedule, logged, options.pct);
  TraceRecorder recorder(options.max_trace_events);
  MockClock clock;
  clock.set_autojump_threshold(std::chrono::nanoseconds(0));
  RunOptions run_options{.clock = &clock, .instruments = {&recorder}, .seed = 0};
  ProgressBudget budget(options.max_virtual_time);
  BudgetWatch watch(recorder, budget);
  if (options.max_virtual_time != kInfDuration) {
    run_options.instruments.push_back(&watch);
    run_options.instruments.push_back(&budget);
  }
  setup.apply(run_options);
  run_options.timer_perturbation_window = options.timer_perturbation;
  ScheduleRun out;
  const int64_t frames_before = lowlevel::live_frames();
  try {
    trio::run(run_options, [&scenario] { return scenario(); });  // a Scenario is move-only
  } catch (...) {
    out.error = describe_exception(std::current_exception());
  }
  // What the run raised after the budget cancelled it is a consequence, not the failure.
  if (budget.exceeded()) {
    out.error = absl::StrCat("trio::testing::LivelockError: ", budget.report());
    out.budget_ran_out_at = watch.events();
  }
  const int64_t leaked = lowlevel::live_frames() - frames_before;
  if (out.error.empty() && leaked != 0)
    out.error = absl::StrCat(leaked, " coroutine frame(s) leaked");
  recorder.note(out.error.empty() ? "run returned" : absl::StrCat("run raised ", out.error));
  out.trace = recorder.trace();
  out.hash = recorder.hash();
  out.choices = logged.choices();
  return out;
}

ScheduleRun run_seed(const Scenario& scenario, uint64_t seed, const ExploreOptions& options) {
  Prng prng(seed);
  return run_with_choices(scenario, prng, options);
}

ScheduleRun replay_choices(const Scenario& scenario, const std::string& choice_string,
                           const ExploreOptions& options) {
  auto values = parse_choices(choice_string);
  if (!values)
    throw std::invalid_argument(absl::StrCat("malformed choice string: ", choice_string));
  ReplayChoiceSource replay(std::move(*values));
  return run_with_choices(scenario, replay, options);
}

SweepResult sweep_seeds(const Scenario& scenario, uint64_t first_seed, uint64_t count,
                        const ExploreOptions& options) {
  SweepResult result;
  for (uint64_t i = 0; i < count; ++i) {
    ++result.seeds_run;
    ScheduleRun run = run_seed(scenario, first_seed + i, options);
    if (run.failed()) {
      result.failing_seed = first_seed + i;
      result.failure = std::move(run);
      break;
    }
  }
  return result;
}

namespace {

uint64_t sum_of(const std::vector<Choice>& choices) {
  uint64_t sum = 0;
  for (const Choice& c : choices) sum += c.value;
  return sum;
}

// Fewer non-zero decisions, or as many with a smaller sum.
bool simpler(const std::vector<Choice>& a, const std::vector<Choice>& b) {
  size_t na = count_nonzero(a), nb = count_nonzero(b);
  return na < nb || (na == nb && sum_of(a) < sum_of(b));
}

// describe_choices for a report: every choice of a short run; of a long one (a livelock's
// hundreds of decisions), the non-simplest ones with their index.
std::string describe_for_report(const std::vector<Choice>& choices) {
  constexpr size_t kDescribedMax = 16;
  if (choices.size() <= kDescribedMax) return describe_choices(choices);
  std::vector<std::string> nonzero;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i].value != 0)
      nonzero.push_back(absl::StrCat("#", i, " ", describe_choices({choices[i]})));
  }
  return absl::StrCat(absl::StrJoin(nonzero, " "), nonzero.empty() ? "" : "; ", "the other ",
                      choices.size() - nonzero.size(), " are 0");
}

}  // namespace

ScheduleRun reduce_choices(const Scenario& scenario, const ScheduleRun& failing,
                           const ExploreOptions& options, int max_runs, int* runs) {
  ScheduleRun best = failing;
  int done = 0;
  auto attempt = [&](std::vector<uint64_t> values) {
    if (done >= max_runs) return false;
    ++done;
    ReplayChoiceSource replay(std::move(values));
    ScheduleRun run = run_with_choices(scenario, replay, options);
    if (!run.failed() || !simpler(run.choices, best.choices)) return false;
    best = std::move(run);
    return true;
  };
  bool changed = true;
  while (changed && done < max_runs) {
    changed = false;
    const std::vector<uint64_t> values = choice_values(best.choices);
    std::vector<size_t> nonzero;
    for (size_t i = 0; i < values.size(); ++i)
      if (values[i] != 0) nonzero.push_back(i);
    for (size_t i : nonzero) {
      std::vector<uint64_t> v = values;
      v[i] = 0;
      if ((changed = attempt(std::move(v)))) break;
    }
    for (size_t a = 0; !changed && a < nonzero.size(); ++a)
      for (size_t b = a + 1; !changed && b < nonzero.size(); ++b) {
        std::vector<uint64_t> v = values;
        v[nonzero[a]] = v[nonzero[b]] = 0;
        changed = attempt(std::move(v));
      }
    // Move the weight of one decision onto another (e.g. a PCT rank: instead of lowering
    // several tasks, raise one to the top).
    for (size_t a = 0; !changed && a < nonzero.size(); ++a)
      for (size_t b = 0; !changed && b < nonzero.size(); ++b) {
        if (a == b) continue;
        std::vector<uint64_t> v = values;
        v[nonzero[a]] = 0;
        v[nonzero[b]] = best.choices[nonzero[b]].n - 1;
        changed = attempt(std::move(v));
      }
    for (size_t i = 0; !changed && i < nonzero.size(); ++i)
      for (uint64_t smaller : {values[nonzero[i]] / 2, values[nonzero[i]] - 1}) {
        if (smaller == 0 || smaller >= values[nonzero[i]]) continue;
        std::vector<uint64_t> v = values;
        v[nonzero[i]] = smaller;
        if ((changed = attempt(std::move(v)))) break;
      }
  }
  if (runs) *runs = done;
  return best;
}

ScheduleRun shrink_choices(const Scenario& scenario, const ScheduleRun& failing,
                           const ExploreOptions& options, int max_runs, int* runs) {
  ScheduleRun best = failing;
  auto try_values = [&](std::vector<uint64_t> values) {
    ReplayChoiceSource replay(std::move(values));
    ScheduleRun run = run_with_choices(scenario, replay, options);
    if (!run.failed() || !simpler(run.choices, best.choices)) return false;
    best = std::move(run);
    return true;
  };
  auto best_values = [&] { return choice_values(best.choices); };
  const int ddmin_runs = ddmin_choices(try_values, best_values, max_runs);
  int reduce_runs = 0;
  best = reduce_choices(scenario, best, options, max_runs - ddmin_runs, &reduce_runs);
  if (runs) *runs = ddmin_runs + reduce_runs;
  return best;
}

std::string format_failing_trace(const ScheduleRun& run, size_t max_lines) {
  if (run.budget_ran_out_at != SIZE_MAX) {
    if (auto cycle = find_cycle(run.trace, run.budget_ran_out_at)) {
      return absl::StrCat(
          "livelock: the run is stuck in a cycle of ", cycle->length, " events (",
          format_time_ns(cycle->period_ns), " of virtual time), repeated ", cycle->repetitions,
          " times until the budget ran out\n",
          format_cycle_report(run.trace, *cycle, /*lead_in_lines=*/max_lines / 3, max_lines));
    }
  }
  return format_report_trace(run.trace, max_lines);
}

namespace {

// The TRIO_REPLAY token of a run of check_property (its decisions, schedule and perturbation).
ReplayToken property_token(const ExploreOptions& explore, const std::vector<Choice>& choices) {
  ReplayToken t;
  t.choices = choice_values(choices);
  t.schedule = explore.schedule;
  if (explore.schedule == Schedule::kPct) t.pct = explore.pct;
  t.timer_perturbation = explore.timer_perturbation;
  return t;
}

// check_property under TRIO_REPLAY: the token's one run, reported as a property failure.
PropertyResult replay_property(const Scenario& scenario, const PropertyOptions& options,
                               const ReplayToken& token) {
  ExploreOptions explore = options.explore;
  explore.schedule = token.schedule;
  explore.pct = token.pct;
  explore.timer_perturbation = token.timer_perturbation;
  PropertyResult result;
  result.cases = 1;
  result.shrunk = token.choices ? replay_choices(scenario, format_choices(*token.choices), explore)
                                : run_seed(scenario, token.seed.value_or(0), explore);
  result.first_choices = result.shrunk.choices;
  result.passed = !result.shrunk.failed();
  if (result.passed) return result;
  const ScheduleRun& s = result.shrunk;
  result.report =
      absl::StrCat("trio property failed replaying TRIO_REPLAY=", format_replay_token(token), "\n",
                   "error: ", s.error, "\n", "choices: \"", s.choice_string(), "\" (",
                   describe_choices(s.choices), ")\n", "reproduce with: ", replay_command(token),
                   "  // trace hash ", format_hash(s.hash), "\n", "trace (its end):\n",
                   format_failing_trace(s, options.report_trace_lines));
  return result;
}

// A rapidcheck listener that prints nothing: our report is the one output. (rapidcheck's default
// listener loads its global configuration, printing "Using configuration: seed=...", and at exit
// an RC_PARAMS="reproduce=..." line: seeds and repro lines that are not ours.)
class SilentListener final : public rc::detail::TestListener {
 public:
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
};

}  // namespace

PropertyResult check_property(const Scenario& scenario, const PropertyOptions& options) {
  std::string token_error;
  if (const std::optional<ReplayToken> token = replay_token_from_environment(&token_error))
    return replay_property(scenario, options, *token);
  if (!token_error.empty()) {
    PropertyResult malformed;
    malformed.passed = false;
    malformed.report = token_error;
    return malformed;
  }
  PropertyResult result;
  bool failed_once = false;
  int runs = 0;
  auto property = [&] {
    RapidcheckChoiceSource source;
    ScheduleRun run = run_with_choices(scenario, source, options.explore);
    ++runs;
    if (!run.failed()) return;
    if (!failed_once) {
      failed_once = true;
      result.cases = runs;
      result.first_choices = run.choices;
    }
    // rapidcheck accepts a shrink candidate only if it fails, so the last failing run is the
    // final (minimal) counterexample.
    std::string error = run.error;
    result.shrunk = std::move(run);
    RC_FAIL(error);
  };
  rc::detail::TestParams params;
  params.seed = options.rapidcheck_seed;
  params.maxSuccess = options.max_cases;
  // Our shrinker replaces rapidcheck's (see PropertyOptions::reduce).
  params.disableShrinking = !options.shrink || options.reduce;
  rc::detail::TestMetadata metadata;
  metadata.id = metadata.description = "trio schedule property";
  SilentListener listener;
  const rc::detail::TestResult rc_result =
      rc::detail::checkTestable(property, metadata, params, listener,
                                std::unordered_map<std::string, rc::detail::Reproduce>{});
  result.passed = !failed_once && rc_result.template is<rc::detail::SuccessResult>();
  if (result.passed) {
    result.cases = runs;
    return result;
  }
  result.shrink_runs = runs - result.cases;
  if (failed_once && options.shrink && options.reduce) {
    int reduce_runs = 0;
    result.shrunk =
        shrink_choices(scenario, result.shrunk, options.explore, /*max_runs=*/2000, &reduce_runs);
    result.shrink_runs += reduce_runs;
  }
  if (!failed_once) {
    std::ostringstream message;  // rapidcheck prints its result to an std::ostream
    rc::detail::printResultMessage(rc_result, message);
    result.report = absl::StrCat("trio property: rapidcheck did not succeed: ", message.str());
    return result;
  }
  const ScheduleRun& s = result.shrunk;
  result.report = absl::StrCat(
      "trio property failed (schedule ", schedule_name(options.explore.schedule),
      ", rapidcheck seed ", options.rapidcheck_seed, ") after ", result.cases,
      " case(s); shrunk in ", result.shrink_runs, " run(s) from ",
      count_nonzero(result.first_choices), " to ", count_nonzero(s.choices),
      " non-simplest choice(s) of ", s.choices.size(), ".\n", "error: ", s.error, "\n",
      "choices: \"", s.choice_string(), "\" (", describe_for_report(s.choices), ")\n",
      "replay: trio::testing::replay_choices(scenario, \"", s.choice_string(),
      "\", options)  // trace hash ", format_hash(s.hash), "\n",
      "reproduce with: ", replay_command(property_token(options.explore, s.choices)), "\n",
      "shrunk trace (its end):\n", format_failing_trace(s, options.report_trace_lines));
  return result;
}

}  // namespace trio::testing
