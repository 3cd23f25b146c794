// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/cancel_explore.h"

#include <algorithm>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/cancel_scope.h"
#include "runtime/errors.h"
#include "runtime/internal/task_record.h"
#include "runtime/lowlevel.h"
#include "runtime/run.h"
#include "simclock/mock_clock.h"
#include "testing/choices.h"
#include "testing/replay.h"
#include "testing/trace.h"

namespace trio::testing {
void CancelInjector::at_cancel_point(lowlevel::TaskRecord& task) {
  if (task.is_system || task.is_init) return;
  const uint64_t k = count++;
  ++per_task[task.name()];
  if (k != target_point_) return;
  reached = true;
  task_name = task.name();
  std::vector<CancelScope*> scopes = lowlevel::enclosing_scopes(task);
  // The run's own scopes (the system nursery's, around the main task) are not the body's:
  // cancelling them cancels the run itself, which then raises Cancelled.
  const std::vector<CancelScope*> run_scopes =
      lowlevel::enclosing_scopes(lowlevel::current_root_task());
  std::erase_if(scopes, [&](CancelScope* s) {
    return std::find(run_scopes.begin(), run_scopes.end(), s) != run_scopes.end();
  });
  scope_count = scopes.size();
  if (scopes.empty()) return;
  size_t i = target_ == CancelTarget::kOutermost ? scopes.size() - 1 : scope_index_;
  if (i >= scopes.size()) return;
  chosen_scope = i;
  scope_description = scopes[i]->description();
  scopes[i]->cancel(absl::StrCat("injected at cancel point ", k));
}

namespace {

constexpr uint64_t kNoPoint = UINT64_MAX;

struct RunOutcome {
  std::string what;  // "" = every invariant held
  std::string trace;
  Trace events;  // the failing run's trace (empty when it passed)
};

// One run. Its decisions come from `choices` if given, else from options.choices (replayed),
// else from options.seed.
RunOutcome run_once(const Scenario& body, const Invariants& invariants,
                    const CancelExploreOptions& options, CancelInjector& injector,
                    ChoiceSource* choices = nullptr) {
  MockClock clock;
  clock.set_autojump_threshold(Duration(0));
  TraceRecorder recorder;
  std::optional<ReplayChoiceSource> replay;
  if (!choices && options.choices) {
    auto values = parse_choices(*options.choices);
    if (!values)
      throw std::invalid_argument(absl::StrCat("malformed choice string: ", *options.choices));
    choices = &replay.emplace(std::move(*values));
  }
  RunOptions run_options{.clock = &clock,
                         .instruments = {&recorder},
                         .seed = options.seed,
                         .scheduling = options.scheduling,
                         .choices = choices,
                         .cancel_point_hook = &injector};
  const int64_t frames_before = lowlevel::live_frames();
  std::exception_ptr error;
  try {
    trio::run(run_options, [&body] { return body(); });  // a Scenario is move-only
  } catch (...) {
    error = std::current_exception();
  }
  std::string what;
  auto add = [&what](const std::string& line) {
    if (line.empty()) return;
    if (!what.empty()) what += "; ";
    what += line;
  };
  if (error) {
    bool expected = false;
    bool is_cancelled = false;
    try {
      std::rethrow_exception(error);
    } catch (const Cancelled&) {
      is_cancelled = true;
    } catch (...) {
    }
    if (!is_cancelled && options.expected_error) expected = options.expected_error(error);
    if (!expected) add(absl::StrCat("the run raised ", describe_tree(error)));
  }
  const int64_t leaked = lowlevel::live_frames() - frames_before;
  if (leaked != 0) add(absl::StrCat(leaked, " coroutine frame(s) leaked"));
  if (invariants) add(invariants());
  recorder.note(error ? absl::StrCat("run raised ", describe(error)) : "run returned");
  RunOutcome out;
  out.what = std::move(what);
  if (!out.what.empty()) {
    out.trace = format_report_trace(recorder.trace(), options.max_trace_lines);
    out.events = recorder.trace();
  }
  return out;
}

// The TRIO_REPLAY token of a run of explore_cancellation (testing/replay.h).
ReplayToken cancel_token(uint64_t seed, SchedulingPolicy scheduling, uint64_t point,
                         size_t scope_index) {
  ReplayToken t;
  t.seed = seed;
  t.schedule = scheduling == SchedulingPolicy::kFifo      ? Schedule::kFifo
               : scheduling == SchedulingPolicy::kShuffle ? Schedule::kShuffle
               : scheduling == SchedulingPolicy::kLifo    ? Schedule::kLifo
                                                          : Schedule::kCoinFlip;
  t.cancel_point = point;
  t.cancel_scope = scope_index;
  return t;
}

SchedulingPolicy policy_of(Schedule schedule) {
  switch (schedule) {
    case Schedule::kFifo:
      return SchedulingPolicy::kFifo;
    case Schedule::kShuffle:
      return SchedulingPolicy::kShuffle;
    case Schedule::kLifo:
      return SchedulingPolicy::kLifo;
    case Schedule::kCoinFlip:
    case Schedule::kPct:  // (no PCT here: a token from a PCT sweep replays in sweep())
      break;
  }
  return SchedulingPolicy::kCoinFlip;
}

std::string scope_name(size_t index, size_t count) {
  if (count == 0) return "no scope";
  if (count == 1) return "its only scope";
  std::string s = absl::StrCat("scope ", index, " of ", count);
  if (index == 0) s += " (innermost)";
  if (index + 1 == count) s += " (outermost)";
  return s;
}

// ---- shrinking a failure ------------------------------------------------------------------------

// Fewer non-zero decisions, or as many with a smaller sum (as check_property's shrinker).
bool simpler(const std::vector<Choice>& a, const std::vector<Choice>& b) {
  uint64_t sum_a = 0, sum_b = 0;
  for (const Choice& c : a) sum_a += c.value;
  for (const Choice& c : b) sum_b += c.value;
  const size_t na = count_nonzero(a), nb = count_nonzero(b);
  return na < nb || (na == nb && sum_a < sum_b);
}

// Shrinks one failure (see CancelExploreReport::shrunk). `runs` counts the runs it takes.
class FailureShrinker {
 public:
  FailureShrinker(const Scenario& body, const Invariants& invariants,
                  const CancelExploreOptions& options, const CancelPointFailure& failure)
      : body_(body), invariants_(invariants), options_(options), failure_(failure) {}

  std::optional<CancelPointFailure> shrink() {
    if (auto f = first_failing_point_by_default()) return f;
    return reduce_decisions();
  }
  uint64_t runs() const { return static_cast<uint64_t>(runs_); }

 private:
  bool budget_left() const { return runs_ < options_.max_shrink_runs; }

  // One run with a cancellation at `point` and the decisions `values` (replayed); the failure,
  // or nullopt if it passed. `*choices` gets the decisions the run made.
  std::optional<CancelPointFailure> run_at(uint64_t point, std::vector<uint64_t> values,
                                           std::vector<Choice>* choices = nullptr) {
    ++runs_;
    ReplayChoiceSource replay(std::move(values));
    CancelInjector injector(point, failure_.scope_index,
                            options_.target == CancelTarget::kOutermost ? CancelTarget::kOutermost
                                                                        : CancelTarget::kEach);
    RunOutcome outcome = run_once(body_, invariants_, options_, injector, &replay);
    if (choices) *choices = replay.choices();
    if (outcome.what.empty() || !injector.reached) return std::nullopt;
    CancelPointFailure f;
    f.point = point;
    f.task = injector.task_name;
    f.scope_index = injector.chosen_scope;
    f.scope_count = injector.scope_count;
    f.what = std::move(outcome.what);
    f.trace = format_report_trace(outcome.events, options_.max_trace_lines);
    f.choices = replay.choice_string();
    return f;
  }

  // The all-default schedule: the first cancel point at which it fails, if its run without
  // injection passes.
  std::optional<CancelPointFailure> first_failing_point_by_default() {
    ++runs_;
    ReplayChoiceSource replay({});
    CancelInjector counter(kNoPoint, 0, options_.target);
    if (!run_once(body_, invariants_, options_, counter, &replay).what.empty()) return std::nullopt;
    for (uint64_t k = 0; k < counter.count && budget_left(); ++k)
      if (auto f = run_at(k, {})) return f;
    return std::nullopt;
  }

  // The seed's decisions of the failing run, reduced with the point fixed (the exploration
  // found no earlier failing point under them).
  std::optional<CancelPointFailure> reduce_decisions() {
    if (!budget_left()) return std::nullopt;
    // The failing run's decisions: the seed's, or the replayed options.choices.
    std::optional<RecordingChoiceSource> recording;
    std::optional<ReplayChoiceSource> replay;
    LoggingChoiceSource* source = nullptr;
    if (options_.choices) {
      source = &replay.emplace(parse_choices(*options_.choices).value_or(std::vector<uint64_t>{}));
    } else {
      source = &recording.emplace(options_.seed);
    }
    ++runs_;
    CancelInjector injector(failure_.point, failure_.scope_index,
                            options_.target == CancelTarget::kOutermost ? CancelTarget::kOutermost
                                                                        : CancelTarget::kEach);
    if (run_once(body_, invariants_, options_, injector, source).what.empty()) return std::nullopt;
    std::vector<Choice> best_choices = source->choices();
    std::optional<CancelPointFailure> best;
    auto try_values = [&](std::vector<uint64_t> values) {
      std::vector<Choice> choices;
      auto f = run_at(failure_.point, std::move(values), &choices);
      if (!f || !simpler(choices, best_choices)) return false;
      best = std::move(f);
      best_choices = std::move(choices);
      return true;
    };
    runs_ += ddmin_choices(
        try_values, [&] { return choice_values(best_choices); }, options_.max_shrink_runs - runs_);
    if (!best && budget_left()) best = run_at(failure_.point, choice_values(best_choices));
    return best;
  }

  const Scenario& body_;
  const Invariants& invariants_;
  const CancelExploreOptions& options_;
  const CancelPointFailure& failure_;
  int runs_ = 0;
};

std::string repro_call(const CancelPointFailure& f, const std::string& run_options) {
  return absl::StrCat("trio::testing::run_with_cancellation(body, invariants, /*point=*/", f.point,
                      ", /*scope_index=*/", f.scope_index, ", ", run_options, ")");
}

// The TRIO_REPLAY token that replays `f`: its cancel point under the seed, or under its choice
// string when it has one (a shrunk failure, or a replay of one).
ReplayToken failure_token(const CancelExploreReport& report, const CancelPointFailure& f) {
  ReplayToken t = cancel_token(report.seed, report.scheduling, f.point, f.scope_index);
  if (f.choices) {
    t.seed.reset();
    t.choices = parse_choices(*f.choices);
  }
  return t;
}

// The call replaying `f` in code.
std::string failure_call(const CancelExploreReport& report, const CancelPointFailure& f) {
  return repro_call(f, f.choices ? absl::StrCat("{.choices = \"", *f.choices, "\"}")
                                 : absl::StrCat("{.seed = ", report.seed, "}"));
}

}  // namespace

std::string CancelPointFailure::to_string() const {
  return absl::StrCat("cancel point ", point, " (task ", task, ", cancelling ",
                      scope_name(scope_index, scope_count), scope.empty() ? "" : ": ", scope,
                      "): ", what);
}

std::string CancelExploreReport::to_string() const {
  std::string out =
      absl::StrCat("trio cancellation exploration, seed ", seed, ": ", cancel_points,
                   " cancel point(s), ", runs, " run(s) with an injected cancellation: ");
  if (!baseline_failure.empty()) {
    absl::StrAppend(&out, "the run without injection failed: ", baseline_failure, "\n");
    return out;
  }
  if (failures.empty()) {
    absl::StrAppend(&out, "every invariant held\n");
    return out;
  }
  const CancelPointFailure& f = failures.front();
  absl::StrAppend(&out, failures.size(), " failing\nfirst failure: ", f.to_string(), "\n");
  // One "reproduce with:" line: the shrunk failure's when there is one.
  absl::StrAppend(&out, shrunk ? "the first failure replays with: " : "reproduce with: ",
                  replay_command(failure_token(*this, f)), "\n(in code: ", failure_call(*this, f),
                  ")\n");
  if (!shrunk) {
    absl::StrAppend(&out, "trace of that run:\n", f.trace);
    return out;
  }
  const CancelPointFailure& s = *shrunk;
  const std::string choices = s.choices.value_or("");
  absl::StrAppend(&out, "shrunk in ", shrink_runs, " run(s): ", s.to_string(), "\n");
  const auto values = parse_choices(choices);
  const bool all_default =
      values && std::all_of(values->begin(), values->end(), [](uint64_t v) { return v == 0; });
  if (all_default) {
    absl::StrAppend(&out, "under the all-default schedule (every decision 0)\n");
  } else {
    absl::StrAppend(&out, "under the schedule \"", choices, "\"\n");
  }
  absl::StrAppend(&out, "reproduce with: ", replay_command(failure_token(*this, s)),
                  "\n(in code: ", failure_call(*this, s), ")\n", "trace of that run:\n", s.trace);
  return out;
}

std::optional<CancelPointFailure> run_with_cancellation(const Scenario& body,
                                                        const Invariants& invariants,
                                                        uint64_t point, size_t scope_index,
                                                        const CancelExploreOptions& options) {
  CancelInjector injector(
      point, scope_index,
      options.target == CancelTarget::kOutermost ? CancelTarget::kOutermost : CancelTarget::kEach);
  RunOutcome outcome = run_once(body, invariants, options, injector);
  if (outcome.what.empty()) return std::nullopt;
  CancelPointFailure f;
  f.point = point;
  f.task = injector.reached ? injector.task_name : "(point not reached)";
  f.scope_index = injector.chosen_scope;
  f.scope_count = injector.scope_count;
  f.scope = std::move(injector.scope_description);
  f.what = std::move(outcome.what);
  f.trace = std::move(outcome.trace);
  f.choices = options.choices;
  return f;
}

CancelExploreReport explore_cancellation(const Scenario& body, const Invariants& invariants,
                                         const CancelExploreOptions& options) {
  CancelExploreReport report;
  report.seed = options.seed;
  report.scheduling = options.scheduling;
  // TRIO_REPLAY: the token's one run (its cancel point under its seed) instead of the search.
  std::string token_error;
  if (const std::optional<ReplayToken> token = replay_token_from_environment(&token_error)) {
    CancelExploreOptions replay = options;
    replay.seed = token->seed.value_or(0);
    replay.scheduling = policy_of(token->schedule);
    if (token->choices) replay.choices = format_choices(*token->choices);
    report.seed = replay.seed;
    report.scheduling = replay.scheduling;
    report.runs = 1;
    if (!token->cancel_point) {
      CancelInjector counter(kNoPoint, 0, options.target);
      RunOutcome baseline = run_once(body, invariants, replay, counter);
      report.cancel_points = counter.count;
      if (!baseline.what.empty())
        report.baseline_failure = absl::StrCat(baseline.what, "\ntrace:\n", baseline.trace);
      return report;
    }
    if (auto f = run_with_cancellation(body, invariants, *token->cancel_point, token->cancel_scope,
                                       replay))
      report.failures.push_back(std::move(*f));
    return report;
  }
  if (!token_error.empty()) {
    report.baseline_failure = token_error;
    return report;
  }
  {
    CancelInjector counter(kNoPoint, 0, options.target);
    RunOutcome baseline = run_once(body, invariants, options, counter);
    report.cancel_points = counter.count;
    report.per_task = std::move(counter.per_task);
    if (!baseline.what.empty()) {
      report.baseline_failure = absl::StrCat(baseline.what, "\ntrace:\n", baseline.trace);
      return report;
    }
  }
  std::vector<uint64_t> points(report.cancel_points);
  for (uint64_t k = 0; k < report.cancel_points; ++k) points[k] = k;
  if (options.max_points != 0 && points.size() > options.max_points) {
    std::mt19937_64 rng(options.seed);
    for (size_t i = 0; i < options.max_points; ++i) {  // partial Fisher-Yates
      const size_t j = i + static_cast<size_t>(rng() % (points.size() - i));
      std::swap(points[i], points[j]);
    }
    points.resize(options.max_points);
    std::sort(points.begin(), points.end());
  }
  for (uint64_t k : points) {
    size_t scope_count = 1;
    for (size_t s = 0; s < scope_count; ++s) {
      CancelInjector injector(k, s, options.target);
      RunOutcome outcome = run_once(body, invariants, options, injector);
      ++report.runs;
      if (options.target == CancelTarget::kEach) scope_count = injector.scope_count;
      if (outcome.what.empty()) continue;
      CancelPointFailure f;
      f.point = k;
      f.task =
          injector.reached ? injector.task_name : "(point not reached: nondeterministic body?)";
      f.scope_index = injector.chosen_scope;
      f.scope_count = injector.scope_count;
      f.scope = std::move(injector.scope_description);
      f.what = std::move(outcome.what);
      f.trace = std::move(outcome.trace);
      report.failures.push_back(std::move(f));
      if (options.stop_at_first_failure) break;
    }
    if (!report.failures.empty() && options.stop_at_first_failure) break;
  }
  if (!report.failures.empty() && options.shrink) {
    FailureShrinker shrinker(body, invariants, options, report.failures.front());
    report.shrunk = shrinker.shrink();
    report.shrink_runs = shrinker.runs();
  }
  return report;
}

}  // namespace trio::testing
