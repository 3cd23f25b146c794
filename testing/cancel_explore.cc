// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/cancel_explore.h"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "runtime/cancel_scope.h"
#include "runtime/errors.h"
#include "runtime/internal/task_record.h"
#include "runtime/lowlevel.h"
#include "runtime/run.h"
#include "simclock/mock_clock.h"
#include "testing/trace.h"

namespace trio::testing {
namespace {

constexpr uint64_t kNoPoint = UINT64_MAX;

// Counts the cancel points of user tasks; at point `target_point` cancels scope `scope_index`.
class Injector : public CancelPointHook {
 public:
  Injector(uint64_t target_point, size_t scope_index, CancelTarget target)
      : target_point_(target_point), scope_index_(scope_index), target_(target) {}

  void at_cancel_point(lowlevel::TaskRecord& task) override {
    if (task.is_system || task.is_init) return;
    const uint64_t k = count_++;
    ++per_task_[task.name()];
    if (k != target_point_) return;
    reached_ = true;
    task_ = task.name();
    std::vector<CancelScope*> scopes = lowlevel::enclosing_scopes(task);
    // The run's own scopes (the system nursery's, around the main task) are not the body's:
    // cancelling them cancels the run itself, which then raises Cancelled.
    const std::vector<CancelScope*> run_scopes =
        lowlevel::enclosing_scopes(lowlevel::current_root_task());
    std::erase_if(scopes, [&](CancelScope* s) {
      return std::find(run_scopes.begin(), run_scopes.end(), s) != run_scopes.end();
    });
    scope_count_ = scopes.size();
    if (scopes.empty()) return;
    size_t i = target_ == CancelTarget::kOutermost ? scopes.size() - 1 : scope_index_;
    if (i >= scopes.size()) return;
    chosen_scope_ = i;
    scope_description_ = scopes[i]->description();
    scopes[i]->cancel("injected at cancel point " + std::to_string(k));
  }

  uint64_t count_ = 0;
  std::map<std::string, uint64_t> per_task_;
  bool reached_ = false;
  std::string task_;
  size_t scope_count_ = 0;
  size_t chosen_scope_ = 0;
  std::string scope_description_;  // the cancelled scope's kind, name and site

 private:
  uint64_t target_point_;
  size_t scope_index_;
  CancelTarget target_;
};

struct RunOutcome {
  std::string what;  // "" = every invariant held
  std::string trace;
};

RunOutcome run_once(const std::function<Task<>()>& body,
                    const std::function<std::string()>& invariants,
                    const CancelExploreOptions& options, Injector& injector) {
  MockClock clock;
  clock.set_autojump_threshold(Duration(0));
  TraceRecorder recorder;
  RunOptions run_options{.clock = &clock,
                         .instruments = {&recorder},
                         .seed = options.seed,
                         .scheduling = options.scheduling,
                         .cancel_point_hook = &injector};
  const int64_t frames_before = lowlevel::live_frames();
  std::exception_ptr error;
  try {
    trio::run(run_options, body);
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
    if (!expected) add("the run raised " + describe_tree(error));
  }
  const int64_t leaked = lowlevel::live_frames() - frames_before;
  if (leaked != 0) add(std::to_string(leaked) + " coroutine frame(s) leaked");
  if (invariants) add(invariants());
  recorder.note(error ? "run raised " + describe(error) : "run returned");
  RunOutcome out;
  out.what = std::move(what);
  if (!out.what.empty()) out.trace = format_trace_tail(recorder.trace(), options.max_trace_lines);
  return out;
}

std::string scope_name(size_t index, size_t count) {
  if (count == 0) return "no scope";
  if (count == 1) return "its only scope";
  std::string s = "scope " + std::to_string(index) + " of " + std::to_string(count);
  if (index == 0) s += " (innermost)";
  if (index + 1 == count) s += " (outermost)";
  return s;
}

}  // namespace

std::string CancelPointFailure::to_string() const {
  return "cancel point " + std::to_string(point) + " (task " + task + ", cancelling " +
         scope_name(scope_index, scope_count) + (scope.empty() ? "" : ": " + scope) + "): " + what;
}

std::string CancelExploreReport::to_string() const {
  std::string out = "trio cancellation exploration, seed " + std::to_string(seed) + ": " +
                    std::to_string(cancel_points) + " cancel point(s), " + std::to_string(runs) +
                    " run(s) with an injected cancellation: ";
  if (!baseline_failure.empty())
    return out + "the run without injection failed: " + baseline_failure + "\n";
  if (failures.empty()) return out + "every invariant held\n";
  const CancelPointFailure& f = failures.front();
  out += std::to_string(failures.size()) + " failing\nfirst failure: " + f.to_string() + "\n";
  out += "reproduce with: trio::testing::run_with_cancellation(body, invariants, /*point=*/" +
         std::to_string(f.point) + ", /*scope_index=*/" + std::to_string(f.scope_index) +
         ", {.seed = " + std::to_string(seed) + "})\ntrace of that run:\n" + f.trace;
  return out;
}

std::optional<CancelPointFailure> run_with_cancellation(
    const std::function<Task<>()>& body, const std::function<std::string()>& invariants,
    uint64_t point, size_t scope_index, const CancelExploreOptions& options) {
  Injector injector(
      point, scope_index,
      options.target == CancelTarget::kOutermost ? CancelTarget::kOutermost : CancelTarget::kEach);
  RunOutcome outcome = run_once(body, invariants, options, injector);
  if (outcome.what.empty()) return std::nullopt;
  CancelPointFailure f;
  f.point = point;
  f.task = injector.reached_ ? injector.task_ : "(point not reached)";
  f.scope_index = injector.chosen_scope_;
  f.scope_count = injector.scope_count_;
  f.scope = std::move(injector.scope_description_);
  f.what = std::move(outcome.what);
  f.trace = std::move(outcome.trace);
  return f;
}

CancelExploreReport explore_cancellation(const std::function<Task<>()>& body,
                                         const std::function<std::string()>& invariants,
                                         const CancelExploreOptions& options) {
  CancelExploreReport report;
  report.seed = options.seed;
  {
    Injector counter(kNoPoint, 0, options.target);
    RunOutcome baseline = run_once(body, invariants, options, counter);
    report.cancel_points = counter.count_;
    report.per_task = std::move(counter.per_task_);
    if (!baseline.what.empty()) {
      report.baseline_failure = baseline.what + "\ntrace:\n" + baseline.trace;
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
      Injector injector(k, s, options.target);
      RunOutcome outcome = run_once(body, invariants, options, injector);
      ++report.runs;
      if (options.target == CancelTarget::kEach) scope_count = injector.scope_count_;
      if (outcome.what.empty()) continue;
      CancelPointFailure f;
      f.point = k;
      f.task = injector.reached_ ? injector.task_ : "(point not reached: nondeterministic body?)";
      f.scope_index = injector.chosen_scope_;
      f.scope_count = injector.scope_count_;
      f.scope = std::move(injector.scope_description_);
      f.what = std::move(outcome.what);
      f.trace = std::move(outcome.trace);
      report.failures.push_back(std::move(f));
      if (options.stop_at_first_failure) return report;
    }
  }
  return report;
}

}  // namespace trio::testing
