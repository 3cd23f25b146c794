// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Property tests: random trees of cancel scopes, nurseries, sleeps and raises run on trio-cpp
// (MockClock, autojump threshold 0, a seed and scheduling policy drawn by rapidcheck) agree with
// an independent reference model of Trio's rules (cancel_model.h: which scope catches a
// Cancelled, §2.3; how nurseries collect and strip errors, §2.6–2.8) on the normalized event log,
// the run's outcome and every scope's cancelled_caught / cancel_called; and, for every program,
// racy or not, invariants that need no model hold (every task exits, no frame leaks, only a
// cancelled scope catches, Cancelled never escapes run(), same seed → same log).
// On failure rapidcheck prints its seed and the shrunk program as gen.py JSON, which
// ../shared/conformance/run_trio.py can run on real Trio.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/testing/cancel_model.h"
#include "runtime/testing/cancel_prop_gen.h"
#include "runtime/trio.h"
#include "simclock/mock_clock.h"

namespace {

namespace cm = trio::cancel_model;
using namespace std::chrono_literals;

// ============================================================================================
// The interpreter: runs a program on trio-cpp, logging what run_trio.py logs
// ============================================================================================

// A program's own error (Python's ValueError / KeyError with a tag).
class ProgramError : public std::exception {
 public:
  ProgramError(cm::ErrKind kind, std::string tag)
      : kind(kind),
        tag(std::move(tag)),
        text(std::string(cm::kind_name(kind)) + "(" + this->tag + ")") {}
  const char* what() const noexcept override { return text.c_str(); }
  cm::ErrKind kind;
  std::string tag;
  std::string text;
};

std::string shape(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const trio::BaseExceptionGroup& g) {
    std::vector<std::string> parts;
    for (const auto& m : g.exceptions()) parts.push_back(shape(m));
    std::sort(parts.begin(), parts.end());
    std::string s = "EG[";
    for (size_t i = 0; i < parts.size(); ++i) s += (i ? "," : "") + parts[i];
    return s + "]";
  } catch (const trio::Cancelled&) {
    return "Cancelled";
  } catch (const ProgramError& p) {
    return p.text;
  } catch (const std::exception& x) {
    return std::string("Unexpected(") + x.what() + ")";
  } catch (...) {
    return "Unknown";
  }
}

struct Interp {
  cm::Outcome out;
  bool inexact_time = false;  // a time that is not a whole number of ticks

  int64_t now_ticks() {
    const int64_t ns = trio::current_time().time_since_epoch().count();
    if (ns % cm::kTickNs != 0) inexact_time = true;
    return ns / cm::kTickNs;
  }
  void log(const std::string& task, std::string event) {
    out.lines.push_back({now_ticks(), task, std::move(event)});
  }
};

trio::Duration ticks(int n) { return trio::Duration(n * cm::kTickNs); }

trio::Task<> run_block(Interp* in, const cm::Block* block, const std::string& task,
                       trio::Nursery* nursery);

trio::Task<> run_child(Interp* in, const cm::Block* block, std::string task,
                       trio::Nursery* nursery) {
  in->log(task, "start");
  try {
    co_await run_block(in, block, task, nursery);
  } catch (...) {
    in->log(task, "exit " + shape(std::current_exception()));
    throw;
  }
  in->log(task, "exit ok");
}

trio::Task<> run_scope(Interp* in, const cm::Stmt* st, const std::string& task,
                       trio::Nursery* nursery) {
  const std::string id = std::to_string(st->id);
  trio::CancelScope scope(trio::kInf, st->shield);
  std::exception_ptr escaped;
  try {
    co_await scope.enter([&](trio::CancelScope& s) -> trio::Task<> {
      if (st->deadline) s.set_deadline(trio::current_time() + ticks(*st->deadline));
      if (st->precancel) s.cancel();
      try {
        co_await run_block(in, &st->body, task, nursery);
      } catch (...) {
        in->log(task, "scope " + id + " unwinding " + shape(std::current_exception()));
        throw;
      }
    });
  } catch (...) {
    escaped = std::current_exception();
  }
  const bool caught = scope.cancelled_caught(), called = scope.cancel_called();
  in->out.scopes[st->id] = {caught, called};
  if (escaped) std::rethrow_exception(escaped);
  in->log(task, "scope " + id + " exit caught=" + std::to_string(caught) +
                    " called=" + std::to_string(called));
}

trio::Task<> run_nursery(Interp* in, const cm::Stmt* st, const std::string& task) {
  const std::string id = std::to_string(st->id);
  try {
    co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
      for (size_t i = 0; i < st->children.size(); ++i)
        n.start_soon(run_child, in, &st->children[i], task + ".n" + id + "c" + std::to_string(i),
                     &n);
      co_await run_block(in, &st->body, task, &n);
    });
  } catch (...) {
    in->log(task, "nursery " + id + " raised " + shape(std::current_exception()));
    throw;
  }
  in->log(task, "nursery " + id + " done");
}

trio::Task<> run_stmt(Interp* in, const cm::Stmt* st, const std::string& task,
                      trio::Nursery* nursery) {
  switch (st->op) {
    case cm::Op::kSleep:
      co_await trio::sleep(ticks(st->ticks));
      in->log(task, "slept " + std::to_string(st->ticks));
      break;
    case cm::Op::kLog:
      in->log(task, st->tag);
      break;
    case cm::Op::kRaise:
      in->log(task, "raise " + st->tag);
      throw ProgramError(st->kind, st->tag);
    case cm::Op::kCancelNursery:
      nursery->cancel_scope().cancel();
      in->log(task, "cancel nursery");
      break;
    case cm::Op::kScope:
      co_await run_scope(in, st, task, nursery);
      break;
    case cm::Op::kNursery:
      co_await run_nursery(in, st, task);
      break;
    case cm::Op::kCatchCancelled: {
      // No co_await in a handler: keep the Cancelled, run the handler after, re-raise it.
      std::exception_ptr cancelled;
      try {
        co_await run_block(in, &st->body, task, nursery);
      } catch (const trio::Cancelled&) {
        cancelled = std::current_exception();
      }
      if (cancelled) {
        in->log(task, "caught Cancelled");
        co_await run_block(in, &st->handler, task, nursery);
        std::rethrow_exception(cancelled);
      }
      break;
    }
    case cm::Op::kCatch:
      try {
        co_await run_block(in, &st->body, task, nursery);
      } catch (const ProgramError& e) {
        if (e.kind != st->kind) throw;
        in->log(task, "caught " + e.text);
      }
      break;
  }
}

trio::Task<> run_block(Interp* in, const cm::Block* block, const std::string& task,
                       trio::Nursery* nursery) {
  for (const cm::Stmt& st : *block) co_await run_stmt(in, &st, task, nursery);
}

trio::Task<> main_task(Interp* in, const cm::Block* program) {
  const std::string task = "m";
  const bool moved = co_await trio::move_on_after(ticks(cm::kBudgetTicks), [&]() -> trio::Task<> {
    co_await run_block(in, program, task, nullptr);
  });
  if (moved) in->log(task, "budget exhausted");
}

struct RuntimeRun {
  cm::Outcome outcome;
  int64_t live_frames_after = 0;
  bool inexact_time = false;
};

RuntimeRun run_on_trio(const cm::Block& program, trio::SchedulingPolicy policy, uint64_t seed) {
  trio::MockClock clock;
  clock.set_autojump_threshold(0s);
  Interp in;
  std::string result = "ok";
  try {
    trio::run(trio::RunOptions{.clock = &clock, .seed = seed, .scheduling = policy}, main_task, &in,
              &program);
  } catch (...) {
    result = shape(std::current_exception());
  }
  const int64_t end_ns = clock.current_time().time_since_epoch().count();
  in.out.result = result;
  in.out.lines.push_back(
      {end_ns / cm::kTickNs, "main", result == "ok" ? "ok" : "raised " + result});
  return {std::move(in.out), trio::lowlevel::live_frames(),
          in.inexact_time || end_ns % cm::kTickNs != 0};
}

// ============================================================================================
// Drawing programs (cancel_prop_gen.h) and scheduling policies
// ============================================================================================

// The whole program as one drawn value, so that a counterexample prints as its JSON.
cm::Block draw_program(cm::GenOptions opt) { return *cm::program(opt); }

// A uniform pick in [lo, hi) that still shrinks towards lo.
int uniform(int lo, int hi) { return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange(lo, hi)); }

constexpr trio::SchedulingPolicy kPolicies[] = {
    trio::SchedulingPolicy::kCoinFlip, trio::SchedulingPolicy::kShuffle,
    trio::SchedulingPolicy::kFifo, trio::SchedulingPolicy::kLifo};
const char* const kPolicyNames[] = {"kCoinFlip", "kShuffle", "kFifo", "kLifo"};

// Any policy (`randomized_only`: kCoinFlip or kShuffle); logged by name.
trio::SchedulingPolicy draw_policy(bool randomized_only = false) {
  const int i = uniform(0, randomized_only ? 2 : 4);
  RC_LOG() << "policy: " << kPolicyNames[i] << "\n";
  return kPolicies[i];
}

// ============================================================================================
// Checking
// ============================================================================================

std::string format_scopes(const cm::Outcome& o) {
  std::string s;
  for (const auto& [id, r] : o.scopes)
    s += " " + std::to_string(id) + ":caught=" + std::to_string(r.caught) +
         ",called=" + std::to_string(r.called);
  return s;
}

std::string describe_difference(const char* a_name, const cm::Outcome& a, const char* b_name,
                                const cm::Outcome& b) {
  return std::string(a_name) + ":\n" + cm::format_lines(cm::normalized(a)) + "  scopes" +
         format_scopes(a) + "\n" + b_name + ":\n" + cm::format_lines(cm::normalized(b)) +
         "  scopes" + format_scopes(b) + "\n";
}

// Runs a property `max_success` times (unless RC_PARAMS sets max_success), reporting like
// RC_GTEST_PROP: rapidcheck's seed and the shrunk counterexample on failure.
template <class Property>
void check_property(int max_success, Property property) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  rc::detail::TestMetadata metadata;
  metadata.id = std::string(info->test_suite_name()) + "/" + info->name();
  metadata.description = info->name();
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  if (params.maxSuccess == rc::detail::TestParams().maxSuccess) params.maxSuccess = max_success;
  const auto result = rc::detail::checkProperty(rc::detail::toProperty(property), metadata, params);
  std::ostringstream message;
  rc::detail::printResultMessage(result, message);
  if (!result.template is<rc::detail::SuccessResult>()) {
    FAIL() << message.str();
  } else if (!result.template get<rc::detail::SuccessResult>().distribution.empty()) {
    std::cout << message.str() << std::endl;
  }
}

// ============================================================================================
// Properties against the model
// ============================================================================================

// One task: the outcome cannot depend on scheduling, so the model's answer is the answer.
TEST(CancelProp, SingleTaskProgramsMatchTheModel) {
  check_property(300, [] {
    const cm::Block program = draw_program({.nurseries = false});
    const auto policy = draw_policy();
    const auto seed = *rc::gen::arbitrary<uint64_t>();
    RC_LOG() << "program: " << cm::to_json(program) << "\n";
    const RuntimeRun run = run_on_trio(program, policy, seed);
    const cm::Outcome model = cm::simulate(program, cm::Order::kFifo);
    if (!cm::same(run.outcome, model))
      RC_FAIL("trio-cpp and the model disagree\n" +
              describe_difference("trio-cpp", run.outcome, "model", model));
  });
}

// Nurseries too. Where the outcome depends on the order of some scheduler batch (a race: e.g. a
// child raises in the instant a sibling's nursery closes) Trio allows several outcomes; the
// model finds them by running the program under many batch orders. Whatever policy and seed
// trio-cpp runs with, its outcome must be one of them — and the only one, for the (vast
// majority of) programs that have no race.
TEST(CancelProp, EveryOutcomeIsOneTheModelAllows) {
  check_property(400, [] {
    const cm::Block program = draw_program({});
    const auto policy = draw_policy();
    const auto seed = *rc::gen::arbitrary<uint64_t>();
    RC_LOG() << "program: " << cm::to_json(program) << "\n";
    const RuntimeRun run = run_on_trio(program, policy, seed);
    const std::optional<cm::Outcome> unique = cm::simulate_if_order_independent(program);
    RC_CLASSIFY(!unique, "racy");
    if (!cm::model_allows(program, run.outcome))
      RC_FAIL(std::string("no batch order of the model gives trio-cpp's outcome\n") +
              describe_difference("trio-cpp", run.outcome,
                                  unique ? "model (its only outcome)" : "model (FIFO)",
                                  unique ? *unique : cm::simulate(program, cm::Order::kFifo)));
  });
}

// Programs without a race give one normalized outcome under every policy. "Without a race" is
// the model's verdict from a sample of orders, so a disagreement both of whose outcomes the
// model can produce is a race the sample missed, not a failure.
TEST(CancelProp, RaceFreeProgramsAgreeUnderEveryPolicy) {
  check_property(200, [] {
    const cm::Block program = draw_program({});
    RC_LOG() << "program: " << cm::to_json(program) << "\n";
    RC_PRE(cm::simulate_if_order_independent(program).has_value());
    const auto seed = *rc::gen::arbitrary<uint64_t>();
    const RuntimeRun fifo = run_on_trio(program, trio::SchedulingPolicy::kFifo, seed);
    for (size_t i = 0; i < std::size(kPolicies); ++i) {
      if (kPolicies[i] == trio::SchedulingPolicy::kFifo) continue;
      const RuntimeRun other = run_on_trio(program, kPolicies[i], seed);
      if (cm::same(fifo.outcome, other.outcome)) continue;
      RC_PRE(
          !(cm::model_allows(program, fifo.outcome) && cm::model_allows(program, other.outcome)));
      RC_FAIL(std::string(kPolicyNames[i]) + " differs from kFifo\n" +
              describe_difference("kFifo", fifo.outcome, kPolicyNames[i], other.outcome));
    }
  });
}

// For a program with a race: each outcome the model reaches in at least a quarter of 64 runs
// with uniformly shuffled batches, that trio-cpp does not produce in 128 runs under kShuffle
// (seeds 0..127). Both shuffle every batch uniformly, so if their rules agree the two
// distributions of outcomes are the same, and such an outcome is missed with negligible
// probability (< 1e-6).
std::vector<cm::Outcome> frequent_outcomes_trio_cpp_misses(const cm::Block& program) {
  constexpr int kModelRuns = 64, kRuntimeRuns = 128;
  std::vector<std::pair<cm::Outcome, int>> seen;
  for (int i = 0; i < kModelRuns; ++i) {
    cm::Outcome o = cm::simulate(program, cm::Order::kShuffle, 1000 + i);
    auto it =
        std::find_if(seen.begin(), seen.end(), [&](const auto& p) { return cm::same(o, p.first); });
    if (it != seen.end())
      ++it->second;
    else
      seen.push_back({std::move(o), 1});
  }
  std::vector<cm::Outcome> missing;
  for (auto& [o, n] : seen)
    if (4 * n >= kModelRuns) missing.push_back(std::move(o));
  for (int seed = 0; seed < kRuntimeRuns && !missing.empty(); ++seed) {
    const RuntimeRun run =
        run_on_trio(program, trio::SchedulingPolicy::kShuffle, static_cast<uint64_t>(seed));
    std::erase_if(missing, [&](const cm::Outcome& o) { return cm::same(run.outcome, o); });
  }
  return missing;
}

// The converse of EveryOutcomeIsOneTheModelAllows, for programs with a race: trio-cpp must not
// be missing an outcome that Trio's rules allow (e.g. by deciding a race the same way whatever
// the order). Race-prone programs: short sleeps, so that wake-ups coincide.
TEST(CancelProp, RacyProgramsReachEveryFrequentModelOutcome) {
  check_property(300, [] {
    const cm::Block program = draw_program({.race_prone = true});
    RC_LOG() << "program: " << cm::to_json(program) << "\n";
    const bool racy = !cm::simulate_if_order_independent(program);
    RC_CLASSIFY(racy, "racy");
    if (!racy) return;
    const std::vector<cm::Outcome> missing = frequent_outcomes_trio_cpp_misses(program);
    if (!missing.empty())
      RC_FAIL("trio-cpp never produced this outcome, which the model reaches often:\n" +
              cm::format_lines(cm::normalized(missing[0])) + "  scopes" +
              format_scopes(missing[0]) + "\n");
  });
}

// ============================================================================================
// Invariants (no model), for every program including racy ones
// ============================================================================================

// Collects the scope statements of a program by id.
void collect_scopes(const cm::Block& block, std::map<int, const cm::Stmt*>& out) {
  for (const cm::Stmt& s : block) {
    if (s.op == cm::Op::kScope) out[s.id] = &s;
    collect_scopes(s.body, out);
    collect_scopes(s.handler, out);
    for (const auto& c : s.children) collect_scopes(c, out);
  }
}

TEST(CancelProp, InvariantsHoldForEveryProgram) {
  check_property(300, [] {
    const cm::Block program = draw_program({});
    const auto policy = draw_policy();
    const auto seed = *rc::gen::arbitrary<uint64_t>();
    RC_LOG() << "program: " << cm::to_json(program) << "\n";
    const RuntimeRun run = run_on_trio(program, policy, seed);
    RC_LOG() << "log:\n" << cm::format_raw(run.outcome) << "scopes" << format_scopes(run.outcome);
    // No coroutine frame outlives the run; virtual time moved in whole ticks only.
    RC_ASSERT(run.live_frames_after == 0);
    RC_ASSERT(!run.inexact_time);
    // Time never goes backwards in the log.
    for (size_t i = 1; i < run.outcome.lines.size(); ++i)
      RC_ASSERT(run.outcome.lines[i - 1].ticks <= run.outcome.lines[i].ticks);
    // Every task that started exited exactly once, and only after starting.
    std::map<std::string, int> started, exited;
    for (const auto& l : run.outcome.lines) {
      if (l.event == "start") RC_ASSERT(started[l.task]++ == 0);
      if (l.event.rfind("exit ", 0) == 0) {
        RC_ASSERT(started[l.task] == 1);
        RC_ASSERT(exited[l.task]++ == 0);
      }
      // Nurseries are strict: what they raise is always a group.
      if (l.event.rfind("nursery ", 0) == 0 && l.event.find(" raised ") != std::string::npos)
        RC_ASSERT(l.event.find(" raised EG[") != std::string::npos);
    }
    RC_ASSERT(started == exited);
    // Only a cancelled scope catches (§2.3); a scope nobody can cancel — no deadline, no
    // precancel (cancel_nursery only reaches nursery scopes) — is never cancelled.
    std::map<int, const cm::Stmt*> scopes;
    collect_scopes(program, scopes);
    for (const auto& [id, rec] : run.outcome.scopes) {
      RC_ASSERT(scopes.count(id) == 1u);
      if (rec.caught) RC_ASSERT(rec.called);
      if (!scopes[id]->deadline && !scopes[id]->precancel) RC_ASSERT(!rec.called);
    }
    // Cancelled never escapes run(): every Cancelled is raised because some scope on the
    // raising task's path to the root is cancelled (and shields are never toggled here), and
    // the outermost such scope — or one inside it — strips it on the way out, out of a group
    // too; the run's own main-task nursery is never cancelled. A handler only re-raises, and a
    // `catch` never turns a Cancelled into something else.
    RC_ASSERT(run.outcome.result.find("Cancelled") == std::string::npos);
  });
}

// The same seed and policy reproduce the run exactly: the raw log, not just its normal form.
TEST(CancelProp, SameSeedGivesTheSameLog) {
  check_property(200, [] {
    const cm::Block program = draw_program({});
    const auto policy = draw_policy(/*randomized_only=*/true);
    const auto seed = *rc::gen::arbitrary<uint64_t>();
    RC_LOG() << "program: " << cm::to_json(program) << "\n";
    const RuntimeRun a = run_on_trio(program, policy, seed);
    const RuntimeRun b = run_on_trio(program, policy, seed);
    if (cm::format_raw(a.outcome) != cm::format_raw(b.outcome) ||
        format_scopes(a.outcome) != format_scopes(b.outcome))
      RC_FAIL("two runs with seed " + std::to_string(seed) + " differ\nfirst:\n" +
              cm::format_raw(a.outcome) + "second:\n" + cm::format_raw(b.outcome));
  });
}

// ============================================================================================
// Regression tests (minimal programs from failures of the properties above)
// ============================================================================================

// A sleep that ends at its scope's deadline: both deadlines expire in the same pass, in either
// order (ties are a scheduling choice). Trio's sleep re-checks at resume, so it raises Cancelled
// and the scope catches, whichever expired first. Shrunk from SingleTaskProgramsMatchTheModel
// against a runtime whose sleep returned normally once its own deadline had woken it.
TEST(CancelPropRegression, SleepEndingAtItsScopesDeadlineIsCancelledUnderEveryPolicy) {
  cm::Stmt sleep, scope;
  sleep.op = cm::Op::kSleep;
  sleep.ticks = 34;
  scope.op = cm::Op::kScope;
  scope.id = 1;
  scope.deadline = 34;
  scope.body = {sleep};
  const cm::Block program = {scope};
  const cm::Outcome model = cm::simulate(program, cm::Order::kFifo);
  ASSERT_EQ(model.scopes.at(1).caught, true);
  for (trio::SchedulingPolicy policy : kPolicies)
    for (uint64_t seed = 0; seed < 16; ++seed)
      EXPECT_EQ(cm::format_raw(run_on_trio(program, policy, seed).outcome), cm::format_raw(model))
          << "policy " << static_cast<int>(policy) << " seed " << seed;
}

// Two children wake from sleep(5) in the same batch and the first to run raises, cancelling
// the nursery. Trio's sleep is `with move_on_at(t): sleep_forever()`: if the raiser ran first,
// the other's sleep scope sees the outer cancellation when it exits and sleep raises Cancelled;
// if not, it returns. Both outcomes must occur (a runtime whose sleep returned whenever its
// deadline had woken it produced only the second).
TEST(CancelPropRegression, BothOutcomesOfTwoSleepsEndingTogetherOccur) {
  cm::Stmt sleep, raise, log, nursery;
  sleep.op = cm::Op::kSleep;
  sleep.ticks = 5;
  raise.op = cm::Op::kRaise;
  raise.tag = "E2";
  log.op = cm::Op::kLog;
  log.tag = "L3";
  nursery.op = cm::Op::kNursery;
  nursery.id = 1;
  nursery.children = {{sleep, raise}, {sleep, log}};
  const cm::Block program = {nursery};
  ASSERT_FALSE(cm::simulate_if_order_independent(program).has_value());
  for (const cm::Outcome& o : frequent_outcomes_trio_cpp_misses(program))
    ADD_FAILURE() << "never produced:\n" << cm::format_lines(cm::normalized(o));
}

}  // namespace
