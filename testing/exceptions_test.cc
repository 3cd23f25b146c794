// SPDX-License-Identifier: Apache-2.0 OR MIT
// capture_exception, describe_exception and the std::exception_ptr matchers: each matcher
// accepts what it claims and rejects the rest with an explanation naming what was held;
// IsExceptionGroup checks members (strictly nested), or leaves with .flatten, or a bare
// exception with .allow_unwrapped; groups come from real nurseries.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>

#include "runtime/trio.h"
#include "testing/testing.h"

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::DescribeMatcher;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Property;
using ::testing::SizeIs;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using trio::Task;
using trio::testing::capture_exception;
using trio::testing::ExceptionMatcher;
using trio::testing::HoldsException;
using trio::testing::HoldsExceptionThat;
using trio::testing::IsCancelled;
using trio::testing::IsExceptionGroup;

namespace {

// Raises at once, in the task's first step.
Task<> fail_with(std::string message) {
  if (message.empty()) co_return;
  throw std::runtime_error(message);
}

template <class E>
std::exception_ptr make(const char* message) {
  return std::make_exception_ptr(E(message));
}

// What `m` says when `e` does not match.
std::string explain(const ExceptionMatcher& m, const std::exception_ptr& e) {
  ::testing::StringMatchResultListener listener;
  EXPECT_FALSE(m.MatchAndExplain(e, &listener));
  return listener.str();
}

// Runs a nursery whose children `boom` and `bang` both fail; returns its group.
Task<std::exception_ptr> two_failures() {
  co_return co_await capture_exception([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(fail_with, "boom");
      n.start_soon(fail_with, "bang");
      co_return;
    });
  });
}

}  // namespace

// ---- capture_exception ----------------------------------------------------------------------

Task<int> returns_value() {
  co_await trio::checkpoint();
  co_return 3;
}

TRIO_TEST(CaptureException, CapturesFromATaskABodyOrAnAwaiter) {
  EXPECT_EQ(co_await capture_exception(returns_value()), nullptr);
  EXPECT_THAT(co_await capture_exception(fail_with("from a task")),
              HoldsException<std::runtime_error>("from a task"));
  EXPECT_THAT(co_await capture_exception([&]() -> Task<> {
                co_await trio::sleep(1s);
                throw std::logic_error("from a body");
              }),
              HoldsException<std::logic_error>("from a body"));
  trio::CancelScope scope;
  co_await scope.enter([&]() -> Task<> {
    scope.cancel("testing");
    std::exception_ptr e = co_await capture_exception(trio::sleep(1s));
    EXPECT_THAT(e, IsCancelled());
    EXPECT_THAT(e, HoldsExceptionThat<trio::Cancelled>(
                       Property(&trio::Cancelled::source, trio::Cancelled::Source::kExplicit)));
    EXPECT_THAT(e, HoldsException<trio::Cancelled>(HasSubstr("with reason 'testing'")));
  });
  // The captured Cancelled never reached the scope (and no later cancel point raised another).
  EXPECT_FALSE(scope.cancelled_caught());
}

// ---- describe_exception ---------------------------------------------------------------------

TEST(DescribeException, NamesTheTypeAndMessage) {
  EXPECT_EQ(trio::testing::describe_exception(make<std::runtime_error>("boom")),
            "std::runtime_error: boom");
  EXPECT_EQ(trio::testing::describe_exception(make<trio::TooSlowError>("late")),
            "trio::TooSlowError: late");
  EXPECT_EQ(trio::testing::describe_exception(std::make_exception_ptr(42)),
            "int: unknown exception");
  EXPECT_EQ(trio::testing::exception_type_name(nullptr), "(none)");
}

TEST(DescribeException, GroupsShowTheirTreeAndInternalErrorsTheirCause) {
  std::exception_ptr inner = trio::make_exception_group(
      "inner", {make<std::runtime_error>("a"), make<std::logic_error>("b")});
  std::exception_ptr outer =
      trio::make_exception_group("outer", {inner, make<std::runtime_error>("c")});
  EXPECT_EQ(trio::testing::describe_exception(outer),
            "trio::ExceptionGroup: outer (2 sub-exceptions)\n"
            "+-- inner (2 sub-exceptions)\n"
            "    +-- a\n"
            "    +-- b\n"
            "+-- c");
  std::exception_ptr internal = std::make_exception_ptr(
      trio::TrioInternalError("system task crashed", make<std::runtime_error>("root cause")));
  EXPECT_EQ(trio::testing::describe_exception(internal),
            "trio::TrioInternalError: system task crashed\n"
            "caused by: std::runtime_error: root cause");
}

// ---- HoldsException -------------------------------------------------------------------------

TEST(HoldsException, MatchesTheTypeAndDerivedTypes) {
  EXPECT_THAT(make<std::runtime_error>("x"), HoldsException<std::runtime_error>());
  EXPECT_THAT(make<trio::TooSlowError>("x"), HoldsException<std::runtime_error>());
  EXPECT_THAT(make<std::runtime_error>("x"), HoldsException<std::exception>());
  EXPECT_THAT(make<std::runtime_error>("x"), Not(HoldsException<std::logic_error>()));
  EXPECT_THAT(std::exception_ptr(), Not(HoldsException<std::exception>()));
}

TEST(HoldsException, MatchesTheMessageWithAMatcherOrAString) {
  EXPECT_THAT(make<std::runtime_error>("big boom"),
              HoldsException<std::runtime_error>(HasSubstr("boom")));
  EXPECT_THAT(make<std::runtime_error>("big boom"), HoldsException<std::runtime_error>("big boom"));
  EXPECT_THAT(make<std::runtime_error>("big boom"),
              Not(HoldsException<std::runtime_error>("boom")));
}

TEST(HoldsException, ExplainsWhatWasHeld) {
  EXPECT_EQ(explain(HoldsException<std::logic_error>(), make<std::runtime_error>("boom")),
            "which holds std::runtime_error: boom");
  EXPECT_EQ(explain(HoldsException<std::logic_error>(), nullptr), "which is null (no exception)");
  EXPECT_THAT(DescribeMatcher<const std::exception_ptr&>(HoldsException<std::runtime_error>("x")),
              "holds an exception of type std::runtime_error whose message is equal to \"x\"");
  EXPECT_THAT(DescribeMatcher<const std::exception_ptr&>(IsCancelled(), /*negation=*/true),
              "is not an exception_ptr that holds an exception of type trio::Cancelled");
}

TEST(HoldsExceptionThat, MatchesTheObject) {
  std::exception_ptr e = make<std::out_of_range>("index 3");
  EXPECT_THAT(e, HoldsExceptionThat<std::out_of_range>(
                     Property(&std::out_of_range::what, StartsWith("index"))));
  EXPECT_THAT(e, Not(HoldsExceptionThat<std::out_of_range>(
                     Property(&std::out_of_range::what, StartsWith("key")))));
  EXPECT_THAT(e, Not(HoldsExceptionThat<std::runtime_error>(::testing::_)));
}

// ---- IsExceptionGroup -----------------------------------------------------------------------

TRIO_TEST(IsExceptionGroup, MatchesTheMembersOfANurserysGroup) {
  std::exception_ptr e = co_await two_failures();
  EXPECT_THAT(e, IsExceptionGroup());
  EXPECT_THAT(e, HoldsException<trio::ExceptionGroup>(StartsWith("Exceptions from Trio nursery")));
  EXPECT_THAT(e, IsExceptionGroup(
                     UnorderedElementsAre(HoldsException<std::runtime_error>(HasSubstr("boom")),
                                          HoldsException<std::runtime_error>("bang"))));
  EXPECT_THAT(e, IsExceptionGroup(SizeIs(2)));
  EXPECT_THAT(e, Not(IsExceptionGroup(ElementsAre(HoldsException<std::runtime_error>()))));
}

TEST(IsExceptionGroup, IsStrictAboutNestingUnlessFlattened) {
  std::exception_ptr nested = trio::make_exception_group(
      "outer", {trio::make_exception_group("inner", {make<std::runtime_error>("a")}),
                make<std::logic_error>("b")});
  auto leaf_a = HoldsException<std::runtime_error>("a");
  auto leaf_b = HoldsException<std::logic_error>("b");
  EXPECT_THAT(nested, IsExceptionGroup(ElementsAre(IsExceptionGroup(ElementsAre(leaf_a)), leaf_b)));
  EXPECT_THAT(nested, Not(IsExceptionGroup(ElementsAre(leaf_a, leaf_b))));
  EXPECT_THAT(nested, IsExceptionGroup(ElementsAre(leaf_a, leaf_b), {.flatten = true}));
  EXPECT_THAT(explain(IsExceptionGroup(ElementsAre(leaf_a, leaf_b)), nested),
              AllOf(HasSubstr("which is trio::ExceptionGroup \"outer\" with 2 members"),
                    HasSubstr("[0] trio::ExceptionGroup: inner (1 sub-exception)"),
                    HasSubstr("[1] std::logic_error: b")));
}

TEST(IsExceptionGroup, BareExceptionMatchesOnlyWhenUnwrappedIsAllowed) {
  std::exception_ptr bare = make<std::runtime_error>("alone");
  auto one = ElementsAre(HoldsException<std::runtime_error>("alone"));
  EXPECT_THAT(bare, Not(IsExceptionGroup(one)));
  EXPECT_THAT(bare, IsExceptionGroup(one, {.allow_unwrapped = true}));
  EXPECT_THAT(explain(IsExceptionGroup(), bare),
              "which is not an exception group: it holds std::runtime_error: alone");
  EXPECT_THAT(std::exception_ptr(), Not(IsExceptionGroup(one, {.allow_unwrapped = true})));
  EXPECT_EQ(
      DescribeMatcher<const std::exception_ptr&>(IsExceptionGroup(SizeIs(1), {.flatten = true})),
      "is an exception group whose leaves (nested groups flattened) size is equal to 1");
}

TRIO_TEST(IsCancelled, MatchesACancelledFromADeadline) {
  std::exception_ptr e;
  co_await trio::move_on_after(
      1s, [&]() -> Task<> { e = co_await capture_exception(trio::sleep_forever()); });
  EXPECT_THAT(e, IsCancelled());
  EXPECT_THAT(e, HoldsExceptionThat<trio::Cancelled>(
                     Property(&trio::Cancelled::source, trio::Cancelled::Source::kDeadline)));
  EXPECT_THAT(make<std::runtime_error>("x"), Not(IsCancelled()));
}
