// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Errors: `Cancelled`, `KeyboardInterrupt`, exception groups, and the error types of Trio's API.
//
// `trio::Cancelled` is deliberately *not* derived from `std::exception` — it plays the role of
// Trio's `BaseException` subclass — so `catch (const std::exception&)` never swallows it (nor a
// `KeyboardInterrupt`). Code that catches everything (`catch (...)`) must rethrow a `Cancelled`:
//
//   try { co_await work(); }
//   catch (const trio::Cancelled&) { throw; }          // let cancellation unwind
//   catch (const std::exception& e) { log(e.what()); }
//
// Nurseries report their children's failures as an exception group (strict, as Trio ≥ 0.25):
// `BaseExceptionGroup` when some member is not a `std::exception` (e.g. a `Cancelled`), and
// `ExceptionGroup` — also a `std::exception` — when every member is one. Catch both with
// `catch (const trio::BaseExceptionGroup&)`.
//
// Misuse of the API (Trio's RuntimeError cases: entering a scope twice, spawning into a closed
// nursery, a runtime call outside `trio::run`) throws `trio::RuntimeError`, a `std::logic_error`,
// with Trio's message text. Bad argument values (Trio's ValueError) throw `trio::ValueError`, a
// `std::invalid_argument`.
#ifndef TRIO_RUNTIME_ERRORS_H_
#define TRIO_RUNTIME_ERRORS_H_

#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
namespace trio {

namespace internal {
struct CancelledAccess;
}  // namespace internal

// Raised at a cancel point inside a cancelled scope. Not constructible by users: every
// `Cancelled` comes from the runtime (copying one is allowed, so it can be rethrown).
//
// `to_string()` is Trio's `str(Cancelled)`:
//   "cancelled due to {source}[ with reason '{reason}'][ from task {source_task}]"
class Cancelled final {
 public:
  enum class Source { kKeyboardInterrupt, kDeadline, kExplicit, kNursery, kShutdown, kUnknown };

  Cancelled(const Cancelled&) = default;
  Cancelled& operator=(const Cancelled&) = default;

  Source source() const { return source_; }
  // Trio's spelling of the source: "deadline", "explicit", "nursery", "shutdown", ...
  const char* source_name() const;
  bool has_reason() const { return has_reason_; }
  const std::string& reason() const { return reason_; }
  // The name of the task that called `cancel()`, or "" if none.
  const std::string& source_task() const { return source_task_; }
  std::string to_string() const;
  // Same text as to_string(), for code that expects a what() method.
  const char* what() const noexcept { return text_.c_str(); }

 private:
  friend struct internal::CancelledAccess;
  Cancelled(Source source, bool has_reason, std::string reason, std::string source_task);

  Source source_;
  bool has_reason_;
  std::string reason_;
  std::string source_task_;
  std::string text_;
};

// Ctrl-C: `trio::run` turns SIGINT into a KeyboardInterrupt raised in the main task at its next
// checkpoint, outside every cancel scope (run.h has the rules). Like Cancelled it is not a
// `std::exception`, so `catch (const std::exception&)` does not swallow it. `context()` is the
// main task's own error when the interrupt arrived after the main task had already failed (it
// then comes out of `trio::run` instead of that error; Python's `__context__`).
class KeyboardInterrupt final {
 public:
  KeyboardInterrupt() = default;
  explicit KeyboardInterrupt(std::exception_ptr context) : context_(std::move(context)) {}
  const std::exception_ptr& context() const { return context_; }
  const char* what() const noexcept { return "KeyboardInterrupt"; }

 private:
  std::exception_ptr context_;
};

// A group of exceptions raised concurrently (Python's BaseExceptionGroup). Members are
// `std::exception_ptr`s, possibly groups themselves. Each member records the name of the task
// that raised it ("" when unknown).
class BaseExceptionGroup {
 public:
  BaseExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions,
                     std::vector<std::string> source_tasks = {});
  virtual ~BaseExceptionGroup() = default;

  const std::string& message() const { return message_; }
  const std::vector<std::exception_ptr>& exceptions() const { return exceptions_; }
  // source_tasks()[i] is the task that raised exceptions()[i] ("" if unknown).
  const std::vector<std::string>& source_tasks() const { return source_tasks_; }
  size_t size() const { return exceptions_.size(); }

  // "message (N sub-exception[s])", as Python prints a group.
  std::string to_string() const;
  // A multi-line tree of the group and its members.
  std::string format_tree() const;

  // PEP 654 `split`: walks the group recursively and partitions its leaves by `pred`, keeping
  // the nesting. Returns (matching group or null, rest or null); each group keeps its message.
  // `pred` is only called during the call (never stored).
  std::pair<std::exception_ptr, std::exception_ptr> split(
      absl::FunctionRef<bool(const std::exception_ptr&)> pred) const;
  template <class E>
  std::pair<std::exception_ptr, std::exception_ptr> split() const;

  // True if some leaf (at any depth) is an `E`.
  template <class E>
  bool contains() const;
  // Every non-group leaf, depth first, in order.
  std::vector<std::exception_ptr> leaves() const;

 private:
  std::string message_;
  std::vector<std::exception_ptr> exceptions_;
  std::vector<std::string> source_tasks_;
};

// A group whose members are all `std::exception`s (Python's ExceptionGroup). Because it is a
// `std::exception`, `catch (const std::exception&)` catches it — as `except Exception` does.
class ExceptionGroup final : public BaseExceptionGroup, public std::exception {
 public:
  ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions,
                 std::vector<std::string> source_tasks = {});
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

// Builds `ExceptionGroup` if every member is a `std::exception`, else `BaseExceptionGroup`.
std::exception_ptr make_exception_group(std::string message,
                                        std::vector<std::exception_ptr> exceptions,
                                        std::vector<std::string> source_tasks = {});

// True if `e` holds an exception of type E (or derived). False for null.
template <class E>
bool holds(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

// A one-line description: `what()` for std::exception, `to_string()` for Cancelled and groups.
std::string describe(const std::exception_ptr& e);
// describe(), but an exception group comes as its whole tree (format_tree(), without the final
// newline): which task raised what, which a group's one-line summary hides.
std::string describe_tree(const std::exception_ptr& e);

// Trio's RuntimeError: the API was misused (a bug in the caller). The message is Trio's.
class RuntimeError : public std::logic_error {
 public:
  explicit RuntimeError(const std::string& message) : std::logic_error(message) {}
};
// Trio's ValueError: an argument has a bad value (negative or NaN duration, ...).
class ValueError : public std::invalid_argument {
 public:
  explicit ValueError(const std::string& message) : std::invalid_argument(message) {}
};
// Python's LookupError / KeyError (RunVar without a value, removing an absent instrument).
class LookupError : public std::out_of_range {
 public:
  explicit LookupError(const std::string& message) : std::out_of_range(message) {}
};
class KeyError : public LookupError {
 public:
  using LookupError::LookupError;
};

#define TRIO_DEFINE_ERROR_(Name, Base, default_message)                            \
  class Name : public Base {                                                       \
   public:                                                                         \
    explicit Name(const std::string& message = default_message) : Base(message) {} \
  }

// A `fail_after` / `fail_at` deadline expired.
TRIO_DEFINE_ERROR_(TooSlowError, std::runtime_error, "operation timed out");
// A `*_nowait` operation would have had to block.
TRIO_DEFINE_ERROR_(WouldBlock, std::runtime_error, "operation would block");
// The sending side of a channel was closed and the buffer is drained.
TRIO_DEFINE_ERROR_(EndOfChannel, std::runtime_error, "end of channel");
// You closed this resource and then tried to use it.
TRIO_DEFINE_ERROR_(ClosedResourceError, std::runtime_error, "resource was closed");
// The other side, or something outside your control, broke the resource. When the operating
// system reported why (a reset connection, a broken pipe), `os_error()` holds its error code.
class BrokenResourceError : public std::runtime_error {
 public:
  explicit BrokenResourceError(const std::string& message = "resource is broken",
                               std::error_code os_error = {})
      : std::runtime_error(message), os_error_(os_error) {}
  std::error_code os_error() const { return os_error_; }

 private:
  std::error_code os_error_;
};
// Two tasks tried to use a single-user resource at once.
TRIO_DEFINE_ERROR_(BusyResourceError, std::runtime_error, "resource is busy");
// A cross-thread call arrived after its run had finished.
TRIO_DEFINE_ERROR_(RunFinishedError, RuntimeError, "run() has already exited");
// In simulation: no task can ever run again (the message holds the task tree).
TRIO_DEFINE_ERROR_(DeadlockError, std::runtime_error, "deadlock: no task can make progress");

// The runtime itself failed (a system task crashed, an internal invariant broke). `cause()`
// holds the underlying error, if any.
class TrioInternalError : public std::runtime_error {
 public:
  explicit TrioInternalError(const std::string& message, std::exception_ptr cause = nullptr)
      : std::runtime_error(message), cause_(std::move(cause)) {}
  const std::exception_ptr& cause() const { return cause_; }

 private:
  std::exception_ptr cause_;
};

#undef TRIO_DEFINE_ERROR_

// ---- template definitions ----

template <class E>
std::pair<std::exception_ptr, std::exception_ptr> BaseExceptionGroup::split() const {
  return split([](const std::exception_ptr& e) { return holds<E>(e); });
}

template <class E>
bool BaseExceptionGroup::contains() const {
  for (const auto& e : leaves())
    if (holds<E>(e)) return true;
  return false;
}

}  // namespace trio

#endif  // TRIO_RUNTIME_ERRORS_H_
