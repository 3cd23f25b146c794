// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Testing exceptions: capture the exception of an awaitable, describe it, and match it —
// including the structure of exception groups — with gMock matchers on `std::exception_ptr`.
//
//   std::exception_ptr e = co_await trio::testing::capture_exception(
//       [&]() -> trio::Task<> {
//         co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
//           n.start_soon(fails_with, "boom");
//           n.start_soon(fails_with, "bang");
//           co_return;
//         });
//       });
//   EXPECT_THAT(e, IsExceptionGroup(UnorderedElementsAre(
//                      HoldsException<std::runtime_error>(HasSubstr("boom")),
//                      HoldsException<std::runtime_error>("bang"))));
//
// Matchers (all match a `std::exception_ptr`; a null pointer matches none of them):
//   HoldsException<E>()               holds an E (or something derived from E)
//   HoldsException<E>(m)              ... whose message matches m (a string matcher or a string);
//                                     the message is what() — to_string() for Cancelled and
//                                     groups
//   HoldsExceptionThat<E>(m)          ... and the `const E&` itself matches m
//   IsCancelled()                     holds a trio::Cancelled
//   IsExceptionGroup()                holds a trio::BaseExceptionGroup (ExceptionGroup included)
//   IsExceptionGroup(m, options)      ... whose members (a std::vector<std::exception_ptr>)
//                                     match m, e.g. ElementsAre(...), UnorderedElementsAre(...),
//                                     SizeIs(2). Options (Trio's RaisesGroup):
//                                       .flatten = true: m sees the group's leaves (nested
//                                         groups dissolved, depth first) instead of its members;
//                                       .allow_unwrapped = true: a bare exception counts as a
//                                         group of one.
//   Nested groups are matched by nesting IsExceptionGroup.
#ifndef TRIO_TESTING_EXCEPTIONS_H_
#define TRIO_TESTING_EXCEPTIONS_H_

#include <gmock/gmock.h>

#include <exception>
#include <optional>
#include <ostream>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "runtime/errors.h"
#include "runtime/task.h"

namespace trio::testing {

// ---- describing ---------------------------------------------------------------------------------

// The dynamic type of the held exception, demangled ("std::runtime_error"); "(none)" for null.
std::string exception_type_name(const std::exception_ptr& e);
// Its message: what() for std::exceptions, to_string() for Cancelled and exception groups,
// "unknown exception" for anything else; "no exception" for null.
std::string exception_message(const std::exception_ptr& e);
// "type: message". For an exception group, the message is its whole tree (several lines); a
// TrioInternalError adds a line "caused by: ..." for its cause.
std::string describe_exception(const std::exception_ptr& e);

// ---- capturing ----------------------------------------------------------------------------------

// Awaits `what` — an awaitable (a Task<T>, trio::sleep(...), ...) or a body callable returning a
// Task (capture by reference, as every body in trio-cpp) — and returns the exception it raised,
// or null if it completed. Its value, if any, is discarded.
//
// It catches everything, Cancelled included: a captured Cancelled does not propagate, so use it
// where the cancellation is the thing under test (the next cancel point raises again).
// Checkpoints: those of `what`, nothing else.
//
//   std::exception_ptr e = co_await capture_exception(trio::sleep_forever());
template <class Awaitable>
Task<std::exception_ptr> capture_exception(Awaitable what) {
  std::exception_ptr error;
  try {
    if constexpr (std::is_invocable_v<Awaitable&>) {
      static_assert(std::is_trivially_destructible_v<Awaitable>,
                    "trio: a body must be trivially destructible: capture by reference ([&]) "
                    "(g++ 12 destroys the captures of a closure temporary in co_await twice)");
      co_await what();
    } else {
      co_await std::move(what);
    }
  } catch (...) {
    error = std::current_exception();
  }
  co_return error;
}

// ---- matchers -----------------------------------------------------------------------------------

using ExceptionMatcher = ::testing::Matcher<const std::exception_ptr&>;

struct GroupMatchOptions {
  bool flatten = false;          // match the leaves instead of the direct members
  bool allow_unwrapped = false;  // a bare exception matches as a group of one
};

namespace internal {

std::string demangle(const char* mangled_name);

// The shared part of the HoldsException matchers: type test plus an optional check.
class HoldsExceptionBase : public ::testing::MatcherInterface<const std::exception_ptr&> {
 public:
  explicit HoldsExceptionBase(std::string type_name) : type_name_(std::move(type_name)) {}
  bool MatchAndExplain(const std::exception_ptr& e,
                       ::testing::MatchResultListener* listener) const override;
  void DescribeTo(std::ostream* os) const override;
  void DescribeNegationTo(std::ostream* os) const override;

 protected:
  // Whether `e` holds the type; then the extra check (default: none).
  virtual bool holds_type(const std::exception_ptr& e) const = 0;
  virtual bool check(const std::exception_ptr& e, ::testing::MatchResultListener* listener) const {
    (void)e;
    (void)listener;
    return true;
  }
  virtual void describe_check(std::ostream* os) const { (void)os; }

 private:
  std::string type_name_;
};

template <class E>
class HoldsExceptionMatcher : public HoldsExceptionBase {
 public:
  explicit HoldsExceptionMatcher(std::optional<::testing::Matcher<const std::string&>> message)
      : HoldsExceptionBase(demangle(typeid(E).name())), message_(std::move(message)) {}

 protected:
  bool holds_type(const std::exception_ptr& e) const override { return holds<E>(e); }
  bool check(const std::exception_ptr& e, ::testing::MatchResultListener* listener) const override {
    if (!message_) return true;
    ::testing::StringMatchResultListener inner;
    const bool ok = message_->MatchAndExplain(exception_message(e), &inner);
    if (!inner.str().empty()) *listener << ", " << inner.str();
    return ok;
  }
  void describe_check(std::ostream* os) const override {
    if (!message_) return;
    *os << " whose message ";
    message_->DescribeTo(os);
  }

 private:
  std::optional<::testing::Matcher<const std::string&>> message_;
};

template <class E>
class HoldsExceptionThatMatcher : public HoldsExceptionBase {
 public:
  explicit HoldsExceptionThatMatcher(::testing::Matcher<const E&> object)
      : HoldsExceptionBase(demangle(typeid(E).name())), object_(std::move(object)) {}

 protected:
  bool holds_type(const std::exception_ptr& e) const override { return holds<E>(e); }
  bool check(const std::exception_ptr& e, ::testing::MatchResultListener* listener) const override {
    try {
      std::rethrow_exception(e);
    } catch (const E& held) {
      ::testing::StringMatchResultListener inner;
      const bool ok = object_.MatchAndExplain(held, &inner);
      if (!inner.str().empty()) *listener << ", " << inner.str();
      return ok;
    } catch (...) {
    }
    return false;
  }
  void describe_check(std::ostream* os) const override {
    *os << " that ";
    object_.DescribeTo(os);
  }

 private:
  ::testing::Matcher<const E&> object_;
};

using MembersMatcher = ::testing::Matcher<const std::vector<std::exception_ptr>&>;

class ExceptionGroupMatcher : public ::testing::MatcherInterface<const std::exception_ptr&> {
 public:
  ExceptionGroupMatcher(std::optional<MembersMatcher> members, GroupMatchOptions options)
      : members_(std::move(members)), options_(options) {}
  bool MatchAndExplain(const std::exception_ptr& e,
                       ::testing::MatchResultListener* listener) const override;
  void DescribeTo(std::ostream* os) const override;
  void DescribeNegationTo(std::ostream* os) const override;

 private:
  std::optional<MembersMatcher> members_;
  GroupMatchOptions options_;
};

}  // namespace internal

template <class E>
ExceptionMatcher HoldsException() {
  return ::testing::MakeMatcher(new internal::HoldsExceptionMatcher<E>(std::nullopt));
}

template <class E, class MessageMatcher>
ExceptionMatcher HoldsException(MessageMatcher message) {
  return ::testing::MakeMatcher(new internal::HoldsExceptionMatcher<E>(
      ::testing::MatcherCast<const std::string&>(std::move(message))));
}

template <class E, class ObjectMatcher>
ExceptionMatcher HoldsExceptionThat(ObjectMatcher object) {
  return ::testing::MakeMatcher(new internal::HoldsExceptionThatMatcher<E>(
      ::testing::MatcherCast<const E&>(std::move(object))));
}

inline ExceptionMatcher IsCancelled() { return HoldsException<Cancelled>(); }

inline ExceptionMatcher IsExceptionGroup() {
  return ::testing::MakeMatcher(
      new internal::ExceptionGroupMatcher(std::nullopt, GroupMatchOptions{}));
}

template <class MembersMatcher>
ExceptionMatcher IsExceptionGroup(MembersMatcher members, GroupMatchOptions options = {}) {
  return ::testing::MakeMatcher(new internal::ExceptionGroupMatcher(
      ::testing::MatcherCast<const std::vector<std::exception_ptr>&>(std::move(members)), options));
}

}  // namespace trio::testing

#endif  // TRIO_TESTING_EXCEPTIONS_H_
