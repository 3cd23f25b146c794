// SPDX-License-Identifier: Apache-2.0 OR MIT
// Errors (spec §1.4 Cancelled, §1.6 and §2.8 exception groups; Trio's test_cancelled.py,
// rewritten): exception groups pick ExceptionGroup vs BaseExceptionGroup by their members, and
// split / leaves / contains / format_tree walk nested groups as PEP 654 does; the error types
// have Trio's hierarchy and messages; Cancelled has no public constructor, is no std::exception,
// and its text and fields name the source, reason and task for every way a scope gets
// cancelled — explicit, deadline, a nursery child or body that raised, and shutdown.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/trio.h"
#include "simclock/mock_clock.h"

using namespace std::chrono_literals;
using trio::Cancelled;
using trio::Task;

namespace {

class Sim {
 public:
  Sim() { clock.set_autojump_threshold(0s); }
  ~Sim() { EXPECT_EQ(trio::lowlevel::live_frames(), 0) << "a coroutine frame leaked"; }
  template <class F>
  auto run(F main) {
    return trio::run(trio::RunOptions{.clock = &clock, .seed = 1}, std::move(main));
  }
  trio::MockClock clock;
};

std::exception_ptr err(const std::string& what) {
  return std::make_exception_ptr(std::runtime_error(what));
}

// The Cancelled that a checkpoint inside a scope cancelled by `cancel(scope)` raises.
template <class F>
Cancelled cancelled_by(F cancel) {
  std::optional<Cancelled> seen;
  Sim sim;
  sim.run([&]() -> Task<> {
    trio::CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      cancel(scope);
      try {
        co_await trio::checkpoint();
      } catch (const Cancelled& c) {
        seen = c;
        throw;
      }
    });
  });
  if (!seen) throw std::logic_error("the checkpoint did not raise Cancelled");
  return *seen;
}

std::exception_ptr a_cancelled() {
  return std::make_exception_ptr(cancelled_by([](trio::CancelScope& s) { s.cancel(); }));
}

std::vector<std::string> describe_all(const std::vector<std::exception_ptr>& es) {
  std::vector<std::string> out;
  for (const auto& e : es) out.push_back(trio::describe(e));
  return out;
}

const trio::BaseExceptionGroup& as_group(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const trio::BaseExceptionGroup& g) {
    return g;  // the exception object lives as long as `e`
  } catch (...) {
  }
  throw std::logic_error("not a group: " + trio::describe(e));
}

}  // namespace

// ---- exception groups -----------------------------------------------------------------------

TEST(ExceptionGroup, AllStdMembersMakeAnExceptionGroupThatIsAStdException) {
  auto g = trio::make_exception_group("Exceptions from Trio nursery", {err("a"), err("b")});
  EXPECT_TRUE(trio::holds<trio::ExceptionGroup>(g));
  EXPECT_TRUE(trio::holds<std::exception>(g));  // caught like Python's `except Exception`
  try {
    std::rethrow_exception(g);
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "Exceptions from Trio nursery (2 sub-exceptions)");
  }
}

TEST(ExceptionGroup, ACancelledMemberMakesABaseExceptionGroupOnly) {
  auto g = trio::make_exception_group("group", {err("a"), a_cancelled()});
  EXPECT_TRUE(trio::holds<trio::BaseExceptionGroup>(g));
  EXPECT_FALSE(trio::holds<trio::ExceptionGroup>(g));
  EXPECT_FALSE(trio::holds<std::exception>(g));
  // A group of a group with a Cancelled inside is no std::exception either.
  auto outer = trio::make_exception_group("outer", {g});
  EXPECT_FALSE(trio::holds<std::exception>(outer));
}

TEST(ExceptionGroup, ToStringCountsSubExceptions) {
  trio::BaseExceptionGroup one("msg", {err("a")});
  trio::BaseExceptionGroup two("msg", {err("a"), err("b")});
  EXPECT_EQ(one.to_string(), "msg (1 sub-exception)");
  EXPECT_EQ(two.to_string(), "msg (2 sub-exceptions)");
  EXPECT_EQ(trio::describe(std::make_exception_ptr(two)), "msg (2 sub-exceptions)");
}

TEST(ExceptionGroup, SourceTasksDefaultToEmptyAndMatchMembers) {
  trio::BaseExceptionGroup g("msg", {err("a"), err("b")}, {"worker"});
  ASSERT_EQ(g.source_tasks().size(), 2u);
  EXPECT_EQ(g.source_tasks()[0], "worker");
  EXPECT_EQ(g.source_tasks()[1], "");
}

TEST(ExceptionGroup, LeavesAreDepthFirstInOrder) {
  auto inner = trio::make_exception_group("inner", {err("b"), err("c")});
  trio::BaseExceptionGroup g("outer", {err("a"), inner, err("d")});
  EXPECT_EQ(describe_all(g.leaves()), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(g.size(), 3u);
}

TEST(ExceptionGroup, SplitPartitionsLeavesKeepingNestingMessagesAndTasks) {
  auto inner = trio::make_exception_group("inner", {a_cancelled(), err("b")}, {"t1", "t2"});
  trio::BaseExceptionGroup g("outer", {err("a"), inner, a_cancelled()}, {"t0", "ti", "t3"});
  auto [match, rest] = g.split<Cancelled>();
  ASSERT_TRUE(match);
  ASSERT_TRUE(rest);
  const auto& m = as_group(match);
  EXPECT_EQ(m.message(), "outer");
  ASSERT_EQ(m.size(), 2u);               // [inner[Cancelled], Cancelled]
  EXPECT_EQ(m.source_tasks()[0], "ti");  // the nested group keeps its position's task
  EXPECT_EQ(as_group(m.exceptions()[0]).message(), "inner");
  EXPECT_EQ(as_group(m.exceptions()[0]).source_tasks()[0], "t1");
  EXPECT_EQ(m.leaves().size(), 2u);
  EXPECT_FALSE(trio::holds<std::exception>(match));
  const auto& r = as_group(rest);
  EXPECT_EQ(r.message(), "outer");
  EXPECT_EQ(describe_all(r.leaves()), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(trio::holds<trio::ExceptionGroup>(rest));  // only std::exceptions are left
}

TEST(ExceptionGroup, SplitGivesNullForAnEmptySide) {
  trio::BaseExceptionGroup g("g", {err("a"), err("b")});
  auto [none, all] = g.split<Cancelled>();
  EXPECT_FALSE(none);
  ASSERT_TRUE(all);
  EXPECT_EQ(as_group(all).size(), 2u);
  auto [every, nothing] = g.split([](const std::exception_ptr&) { return true; });
  EXPECT_TRUE(every);
  EXPECT_FALSE(nothing);
}

TEST(ExceptionGroup, ContainsFindsNestedLeaves) {
  auto inner =
      trio::make_exception_group("inner", {std::make_exception_ptr(trio::ValueError("v"))});
  trio::BaseExceptionGroup g("outer", {err("a"), inner});
  EXPECT_TRUE(g.contains<trio::ValueError>());
  EXPECT_TRUE(g.contains<std::invalid_argument>());
  EXPECT_FALSE(g.contains<trio::TooSlowError>());
  EXPECT_FALSE(g.contains<Cancelled>());
}

TEST(ExceptionGroup, FormatTreeShowsNestingAndTasks) {
  auto inner = trio::make_exception_group("inner", {err("b")}, {"child"});
  trio::BaseExceptionGroup g("outer", {err("a"), inner}, {"main", ""});
  const std::string tree = g.format_tree();
  EXPECT_EQ(tree,
            "outer (2 sub-exceptions)\n"
            "+-- [task main] a\n"
            "+-- inner (1 sub-exception)\n"
            "    +-- [task child] b\n");
}

TEST(ExceptionGroup, HoldsAndDescribe) {
  EXPECT_FALSE(trio::holds<std::exception>(nullptr));
  EXPECT_EQ(trio::describe(nullptr), "no exception");
  EXPECT_EQ(trio::describe(err("plain")), "plain");
  EXPECT_EQ(trio::describe(std::make_exception_ptr(42)), "unknown exception");
  EXPECT_EQ(trio::describe(a_cancelled()), "Cancelled(cancelled due to explicit from task main)");
}

TEST(ExceptionGroup, DescribeTreeShowsAGroupsWholeTreeAndElseAsDescribe) {
  auto group = trio::make_exception_group("outer", {err("a")}, {"main"});
  EXPECT_EQ(trio::describe_tree(group), "outer (1 sub-exception)\n+-- [task main] a");
  EXPECT_EQ(trio::describe_tree(err("plain")), "plain");
  EXPECT_EQ(trio::describe_tree(nullptr), "no exception");
}

// ---- error types ----------------------------------------------------------------------------

static_assert(std::is_base_of_v<std::logic_error, trio::RuntimeError>);
static_assert(std::is_base_of_v<std::invalid_argument, trio::ValueError>);
static_assert(std::is_base_of_v<trio::RuntimeError, trio::RunFinishedError>);
static_assert(std::is_base_of_v<std::runtime_error, trio::TooSlowError>);
static_assert(std::is_base_of_v<trio::LookupError, trio::KeyError>);
static_assert(std::is_base_of_v<std::exception, trio::ExceptionGroup>);
static_assert(!std::is_base_of_v<std::exception, trio::BaseExceptionGroup>);
static_assert(!std::is_base_of_v<std::exception, Cancelled>);
static_assert(!std::is_default_constructible_v<Cancelled>);
static_assert(
    !std::is_constructible_v<Cancelled, Cancelled::Source, bool, std::string, std::string>,
    "Cancelled has no public constructor: only the runtime makes them");
static_assert(std::is_copy_constructible_v<Cancelled>);

TEST(Errors, DefaultMessages) {
  EXPECT_STREQ(trio::TooSlowError().what(), "operation timed out");
  EXPECT_STREQ(trio::WouldBlock().what(), "operation would block");
  EXPECT_STREQ(trio::RunFinishedError().what(), "run() has already exited");
  EXPECT_STREQ(trio::ClosedResourceError("mine").what(), "mine");
}

TEST(Errors, TrioInternalErrorKeepsItsCause) {
  trio::TrioInternalError e("broken", err("root cause"));
  EXPECT_STREQ(e.what(), "broken");
  EXPECT_EQ(trio::describe(e.cause()), "root cause");
  EXPECT_FALSE(trio::TrioInternalError("no cause").cause());
}

// ---- Cancelled: text, source, reason, task --------------------------------------------------

TEST(Cancelled, ExplicitWithReasonNamesReasonAndTask) {
  Cancelled c = cancelled_by([](trio::CancelScope& s) { s.cancel("hello"); });
  EXPECT_EQ(c.source(), Cancelled::Source::kExplicit);
  EXPECT_STREQ(c.source_name(), "explicit");
  EXPECT_TRUE(c.has_reason());
  EXPECT_EQ(c.reason(), "hello");
  EXPECT_EQ(c.source_task(), "main");
  EXPECT_EQ(c.to_string(), "cancelled due to explicit with reason 'hello' from task main");
  EXPECT_STREQ(c.what(), c.to_string().c_str());
}

TEST(Cancelled, ExplicitWithoutReason) {
  Cancelled c = cancelled_by([](trio::CancelScope& s) { s.cancel(); });
  EXPECT_FALSE(c.has_reason());
  EXPECT_EQ(c.to_string(), "cancelled due to explicit from task main");
}

TEST(Cancelled, DeadlineHasNoReasonAndNoTask) {
  Cancelled c = cancelled_by([](trio::CancelScope& s) { s.set_deadline(trio::kNegInf); });
  EXPECT_EQ(c.source(), Cancelled::Source::kDeadline);
  EXPECT_EQ(c.source_task(), "");
  EXPECT_EQ(c.to_string(), "cancelled due to deadline");
  std::optional<Cancelled> at_entry;
  Sim sim;
  sim.run([&]() -> Task<> {
    trio::CancelScope scope(trio::kNegInf);  // past at entry: cancelled at once
    co_await scope.enter([&]() -> Task<> {
      try {
        co_await trio::checkpoint();
      } catch (const Cancelled& e) {
        at_entry = e;
      }
    });
  });
  ASSERT_TRUE(at_entry.has_value());
  EXPECT_EQ(at_entry->to_string(), "cancelled due to deadline");
}

TEST(Cancelled, FirstReasonIsNeverOverwritten) {
  EXPECT_EQ(cancelled_by([](trio::CancelScope& s) {
              s.cancel();
              s.set_deadline(trio::kNegInf);
            }).to_string(),
            "cancelled due to explicit from task main");
  EXPECT_EQ(cancelled_by([](trio::CancelScope& s) {
              s.cancel("first");
              s.cancel("second");
            }).reason(),
            "first");
  // A deadline counts once the run loop has expired it (at the checkpoint's schedule point, as
  // in Trio); a cancel() after that does not replace the reason.
  Sim sim;
  std::vector<std::string> seen;
  sim.run([&]() -> Task<> {
    trio::CancelScope scope;
    co_await scope.enter([&]() -> Task<> {
      scope.set_deadline(trio::kNegInf);
      for (int i = 0; i < 2; ++i) {
        try {
          co_await trio::checkpoint();
        } catch (const Cancelled& c) {
          seen.push_back(c.to_string());
        }
        scope.cancel("too late");
      }
    });
  });
  EXPECT_EQ(seen,
            (std::vector<std::string>{"cancelled due to deadline", "cancelled due to deadline"}));
}

TEST(Cancelled, CancelFromAnotherTaskNamesThatTask) {
  Sim sim;
  std::optional<Cancelled> seen;
  sim.run([&]() -> Task<> {
    trio::CancelScope scope;
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await scope.enter([&]() -> Task<> {
          try {
            co_await trio::sleep_forever();
          } catch (const Cancelled& c) {
            seen = c;
            throw;
          }
        });
      });
      n.start_soon(trio::TaskName("canceller"), [&]() -> Task<> {
        co_await trio::sleep(1s);
        scope.cancel("enough");
      });
      co_return;
    });
  });
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->to_string(),
            "cancelled due to explicit with reason 'enough' from task canceller");
}

TEST(Cancelled, InnerScopeReportsTheOuterScopesReason) {
  Sim sim;
  std::optional<Cancelled> seen;
  sim.run([&]() -> Task<> {
    trio::CancelScope outer, inner;
    co_await outer.enter([&]() -> Task<> {
      co_await inner.enter([&]() -> Task<> {
        outer.cancel("from outside");
        try {
          co_await trio::checkpoint();
        } catch (const Cancelled& c) {
          seen = c;
          throw;
        }
      });
    });
  });
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->reason(), "from outside");
}

// Trio's test_cancel_reason_nursery2: the siblings of a crashed child learn which task crashed.
TEST(Cancelled, NurseryChildFailureNamesTheFailedTask) {
  Sim sim;
  std::optional<Cancelled> seen;
  EXPECT_THROW(sim.run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        try {
          co_await trio::sleep_forever();
        } catch (const Cancelled& c) {
          seen = c;
          throw;
        }
      });
      n.start_soon(trio::TaskName("failing"), []() -> Task<> {
        co_await trio::sleep(1s);
        throw std::runtime_error("boom");
      });
      co_return;
    });
  }),
               trio::ExceptionGroup);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->source(), Cancelled::Source::kNursery);
  EXPECT_EQ(seen->reason(), "child task raised exception boom");
  EXPECT_EQ(seen->source_task(), "failing");
  EXPECT_EQ(seen->to_string(),
            "cancelled due to nursery with reason 'child task raised exception boom' from task "
            "failing");
}

// Trio's test_nested_child_source and test_cancel_reason_nursery3 (a start() that fails before
// started() counts as the body failing).
TEST(Cancelled, NurseryBodyFailureNamesTheParentTask) {
  for (bool via_start : {false, true}) {
    SCOPED_TRACE(via_start ? "failing start()" : "failing body");
    Sim sim;
    std::optional<Cancelled> seen;
    EXPECT_THROW(sim.run([&]() -> Task<> {
      co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
        n.start_soon([&]() -> Task<> {
          try {
            co_await trio::sleep_forever();
          } catch (const Cancelled& c) {
            seen = c;
            throw;
          }
        });
        co_await trio::lowlevel::wait_all_tasks_blocked();
        if (via_start)
          co_await n.start([](trio::TaskStatus<>&) -> Task<> {
            throw std::runtime_error("boom");
            co_return;
          });
        throw std::runtime_error("boom");
      });
    }),
                 trio::ExceptionGroup);
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->to_string(),
              "cancelled due to nursery with reason 'Code block inside nursery contextmanager "
              "raised exception boom' from task main");
  }
}
