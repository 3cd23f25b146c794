// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/errors.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "runtime/internal/cancelled_access.h"

namespace trio {

namespace {

const char* kSourceNames[] = {"KeyboardInterrupt", "deadline", "explicit",
                              "nursery",           "shutdown", "unknown"};

// Whether a group member is a std::exception (decides ExceptionGroup vs BaseExceptionGroup).
bool is_std_exception(const std::exception_ptr& e) { return holds<std::exception>(e); }

const BaseExceptionGroup* as_group(const std::exception_ptr& e, std::exception_ptr* keep) {
  // Returns a pointer into the exception object, which `keep` keeps alive.
  *keep = e;
  try {
    std::rethrow_exception(e);
  } catch (const BaseExceptionGroup& g) {
    return &g;
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

Cancelled::Cancelled(Source source, bool has_reason, std::string reason, std::string source_task)
    : source_(source),
      has_reason_(has_reason),
      reason_(std::move(reason)),
      source_task_(std::move(source_task)) {
  text_ = to_string();
}

const char* Cancelled::source_name() const { return kSourceNames[static_cast<int>(source_)]; }

std::string Cancelled::to_string() const {
  std::string s = absl::StrCat("cancelled due to ", source_name());
  if (has_reason_) absl::StrAppend(&s, " with reason '", reason_, "'");
  if (!source_task_.empty()) absl::StrAppend(&s, " from task ", source_task_);
  return s;
}

namespace internal {
Cancelled CancelledAccess::make(Cancelled::Source source, bool has_reason, std::string reason,
                                std::string source_task) {
  return Cancelled(source, has_reason, std::move(reason), std::move(source_task));
}
}  // namespace internal

BaseExceptionGroup::BaseExceptionGroup(std::string message,
                                       std::vector<std::exception_ptr> exceptions,
                                       std::vector<std::string> source_tasks)
    : message_(std::move(message)),
      exceptions_(std::move(exceptions)),
      source_tasks_(std::move(source_tasks)) {
  source_tasks_.resize(exceptions_.size());
}

std::string BaseExceptionGroup::to_string() const {
  return absl::StrCat(message_, " (", exceptions_.size(),
                      exceptions_.size() == 1 ? " sub-exception)" : " sub-exceptions)");
}

std::string BaseExceptionGroup::format_tree() const {
  std::string out = absl::StrCat(to_string(), "\n");
  for (size_t i = 0; i < exceptions_.size(); ++i) {
    std::exception_ptr keep;
    std::string prefix = "+-- ";
    if (!source_tasks_[i].empty()) absl::StrAppend(&prefix, "[task ", source_tasks_[i], "] ");
    if (const BaseExceptionGroup* g = as_group(exceptions_[i], &keep)) {
      // A nested tree (never empty; it ends with a newline) is indented under the prefix.
      const std::string sub = g->format_tree();
      std::vector<absl::string_view> lines = absl::StrSplit(sub, '\n');
      if (lines.back().empty()) lines.pop_back();
      absl::StrAppend(&out, prefix, absl::StrJoin(lines, "\n    "), "\n");
    } else {
      absl::StrAppend(&out, prefix, describe(exceptions_[i]), "\n");
    }
  }
  return out;
}

std::pair<std::exception_ptr, std::exception_ptr> BaseExceptionGroup::split(
    absl::FunctionRef<bool(const std::exception_ptr&)> pred) const {
  std::vector<std::exception_ptr> match, rest;
  std::vector<std::string> match_src, rest_src;
  for (size_t i = 0; i < exceptions_.size(); ++i) {
    const std::exception_ptr& e = exceptions_[i];
    std::exception_ptr keep;
    if (const BaseExceptionGroup* g = as_group(e, &keep)) {
      auto [m, r] = g->split(pred);
      if (m) match.push_back(m), match_src.push_back(source_tasks_[i]);
      if (r) rest.push_back(r), rest_src.push_back(source_tasks_[i]);
    } else if (pred(e)) {
      match.push_back(e), match_src.push_back(source_tasks_[i]);
    } else {
      rest.push_back(e), rest_src.push_back(source_tasks_[i]);
    }
  }
  std::exception_ptr m, r;
  if (!match.empty()) m = make_exception_group(message_, std::move(match), std::move(match_src));
  if (!rest.empty()) r = make_exception_group(message_, std::move(rest), std::move(rest_src));
  return {m, r};
}

std::vector<std::exception_ptr> BaseExceptionGroup::leaves() const {
  std::vector<std::exception_ptr> out;
  for (const auto& e : exceptions_) {
    std::exception_ptr keep;
    if (const BaseExceptionGroup* g = as_group(e, &keep)) {
      auto sub = g->leaves();
      out.insert(out.end(), sub.begin(), sub.end());
    } else {
      out.push_back(e);
    }
  }
  return out;
}

ExceptionGroup::ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions,
                               std::vector<std::string> source_tasks)
    : BaseExceptionGroup(std::move(message), std::move(exceptions), std::move(source_tasks)) {
  what_ = to_string();
}

std::exception_ptr make_exception_group(std::string message,
                                        std::vector<std::exception_ptr> exceptions,
                                        std::vector<std::string> source_tasks) {
  bool all_std = true;
  for (const auto& e : exceptions) all_std = all_std && is_std_exception(e);
  if (all_std)
    return std::make_exception_ptr(
        ExceptionGroup(std::move(message), std::move(exceptions), std::move(source_tasks)));
  return std::make_exception_ptr(
      BaseExceptionGroup(std::move(message), std::move(exceptions), std::move(source_tasks)));
}

std::string describe(const std::exception_ptr& e) {
  if (!e) return "no exception";
  try {
    std::rethrow_exception(e);
  } catch (const Cancelled& c) {
    return absl::StrCat("Cancelled(", c.to_string(), ")");
  } catch (const KeyboardInterrupt&) {
    return "KeyboardInterrupt";
  } catch (const BaseExceptionGroup& g) {
    return g.to_string();
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

std::string describe_tree(const std::exception_ptr& e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const BaseExceptionGroup& g) {
    std::string tree = g.format_tree();
    while (!tree.empty() && tree.back() == '\n') tree.pop_back();
    return tree;
  } catch (...) {
  }
  return describe(e);
}

}  // namespace trio
