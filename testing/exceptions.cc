// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "testing/exceptions.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"

namespace trio::testing {

namespace internal {

std::string demangle(const char* mangled_name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(mangled_name, nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(mangled_name);
}

namespace {

// The group `e` holds, or null. The pointer stays valid while `e` (which owns the exception
// object; rethrow_exception does not copy it) is alive.
const BaseExceptionGroup* as_group(const std::exception_ptr& e) {
  if (!e) return nullptr;
  try {
    std::rethrow_exception(e);
  } catch (const BaseExceptionGroup& g) {
    return &g;
  } catch (...) {
    return nullptr;
  }
}

// "std::runtime_error: boom", one line (a group gives its one-line summary).
std::string one_line(const std::exception_ptr& e) {
  return absl::StrCat(exception_type_name(e), ": ", exception_message(e));
}

}  // namespace

// ---- HoldsExceptionBase ----

bool HoldsExceptionBase::MatchAndExplain(const std::exception_ptr& e,
                                         ::testing::MatchResultListener* listener) const {
  if (!e) {
    *listener << "which is null (no exception)";
    return false;
  }
  *listener << "which holds " << one_line(e);
  if (!holds_type(e)) return false;
  return check(e, listener);
}

void HoldsExceptionBase::DescribeTo(std::ostream* os) const {
  *os << "holds an exception of type " << type_name_;
  describe_check(os);
}

void HoldsExceptionBase::DescribeNegationTo(std::ostream* os) const {
  *os << "is not an exception_ptr that ";
  DescribeTo(os);
}

// ---- ExceptionGroupMatcher ----

bool ExceptionGroupMatcher::MatchAndExplain(const std::exception_ptr& e,
                                            ::testing::MatchResultListener* listener) const {
  if (!e) {
    *listener << "which is null (no exception)";
    return false;
  }
  std::vector<std::exception_ptr> members;
  if (const BaseExceptionGroup* g = as_group(e)) {
    members = options_.flatten ? g->leaves() : g->exceptions();
    *listener << "which is " << exception_type_name(e) << " \"" << g->message() << "\" with "
              << members.size() << (options_.flatten ? " leaves" : " members");
  } else if (options_.allow_unwrapped) {
    members = {e};
    *listener << "which is not a group (taken as a group of one): " << one_line(e);
  } else {
    *listener << "which is not an exception group: it holds " << one_line(e);
    return false;
  }
  if (!members_) return true;
  *listener << ":";
  for (size_t i = 0; i < members.size(); ++i)
    *listener << "\n  [" << i << "] " << one_line(members[i]);
  ::testing::StringMatchResultListener inner;
  const bool ok = members_->MatchAndExplain(members, &inner);
  if (!inner.str().empty()) *listener << "\n" << inner.str();
  return ok;
}

void ExceptionGroupMatcher::DescribeTo(std::ostream* os) const {
  *os << "is an exception group";
  if (options_.allow_unwrapped) *os << " (or a bare exception, taken as a group of one)";
  if (!members_) return;
  *os << (options_.flatten ? " whose leaves (nested groups flattened) " : " whose members ");
  members_->DescribeTo(os);
}

void ExceptionGroupMatcher::DescribeNegationTo(std::ostream* os) const {
  *os << "is not an exception_ptr that ";
  DescribeTo(os);
}

}  // namespace internal

// ---- describing ----

std::string exception_type_name(const std::exception_ptr& e) {
  if (!e) return "(none)";
  try {
    std::rethrow_exception(e);
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    return type ? internal::demangle(type->name()) : "unknown exception type";
  }
}

std::string exception_message(const std::exception_ptr& e) {
  if (!e) return "no exception";
  try {
    std::rethrow_exception(e);
  } catch (const Cancelled& c) {
    return c.to_string();
  } catch (const BaseExceptionGroup& g) {
    return g.to_string();
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

std::string describe_exception(const std::exception_ptr& e) {
  std::string text = absl::StrCat(exception_type_name(e), ": ");
  if (const BaseExceptionGroup* g = internal::as_group(e)) {
    absl::StrAppend(&text, g->format_tree());
    while (!text.empty() && text.back() == '\n') text.pop_back();
  } else {
    absl::StrAppend(&text, exception_message(e));
  }
  try {
    if (e) std::rethrow_exception(e);
  } catch (const TrioInternalError& internal_error) {
    if (internal_error.cause())
      absl::StrAppend(&text, "\ncaused by: ", describe_exception(internal_error.cause()));
  } catch (...) {
  }
  return text;
}

}  // namespace trio::testing
