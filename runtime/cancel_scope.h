// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Cancellation: `CancelScope`, `move_on_after/at`, `fail_after/at`, `current_effective_deadline`.
//
// Trio's model (spec §2.2–2.5): a cancel scope delimits a body of work that can be cancelled,
// explicitly (`cancel()`) or by a deadline. Cancellation is level-triggered: while a scope is
// cancelled, *every* cancel point inside it raises `trio::Cancelled`, until the exception
// reaches the scope, which swallows it. When several nested scopes are cancelled, the outermost
// one catches. `shield` hides cancellations of the scopes outside.
//
// C++ has no `with` statement that can swallow an exception, so a scope wraps a body:
//
//   trio::CancelScope scope;                       // or CancelScope(deadline), ::relative(d)
//   co_await scope.enter([&](trio::CancelScope& s) -> trio::Task<> {
//     s.cancel();                                  // the next checkpoint raises Cancelled...
//     co_await trio::sleep(1s);
//   });                                            // ...which the scope swallows here
//   assert(scope.cancelled_caught());
//
//   bool moved_on = co_await trio::move_on_after(5s, [&]() -> trio::Task<> { ... });
//   std::optional<int> v = co_await trio::move_on_after(5s, [&]() -> trio::Task<int> { ... });
//   int w = co_await trio::fail_after(5s, [&]() -> trio::Task<int> { ... });  // TooSlowError
//
// Bodies: a callable taking `CancelScope&` or nothing and returning `Task<T>`. It must be
// trivially destructible — capture by reference (`[&]`) — because g++ 12 destroys the captures
// of a closure temporary inside `co_await` twice (GCC PR 100611). The body runs before the
// `co_await` completes, so references to the enclosing frame are safe.
//
// Descriptions: every scope knows what opened it — its kind (an explicit CancelScope,
// move_on_after/at, fail_after/at, a nursery, the run's system nursery), an optional name
// (`set_name("...")`, a string literal) and the file:line of the code that created it, captured
// by a defaulted SourceSite argument for the cost of a few stores. `description()` puts them
// together for reports, e.g. `move_on_after "fetch timeout" at app/fetch.cc:42`.
//
// Checkpoints: entering and exiting a scope are not checkpoints (Trio); `cancel()` is sync.
// Errors: entering a scope twice → RuntimeError("Each CancelScope may only be used for a single
// 'with' block"); NaN or negative relative deadlines → ValueError.
#ifndef TRIO_RUNTIME_CANCEL_SCOPE_H_
#define TRIO_RUNTIME_CANCEL_SCOPE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>

#include "runtime/errors.h"
#include "runtime/internal/cancel_status.h"
#include "runtime/task.h"
#include "runtime/time.h"

namespace trio {

// Where a scope was created: a file and line captured at the call site by a defaulted argument
// (`SourceSite site = SourceSite::here()`). Not std::source_location: clang 14 cannot compile it
// with libstdc++ 12 (it lacks __builtin_source_location), while __builtin_FILE/LINE work on both
// compilers. The file is a string literal (static storage), so copying a site is two words.
struct SourceSite {
  const char* file = "";  // as the compiler was given it: workspace-relative under Bazel
  uint32_t line = 0;
  static constexpr SourceSite here(const char* file = __builtin_FILE(),
                                   uint32_t line = __builtin_LINE()) noexcept {
    return SourceSite{file, line};
  }
};

// What opened a scope (for descriptions only: every kind behaves the same).
enum class ScopeKind : uint8_t {
  kCancelScope,    // an explicit `CancelScope`
  kMoveOnAfter,    // move_on_after
  kMoveOnAt,       // move_on_at
  kFailAfter,      // fail_after
  kFailAt,         // fail_at
  kNursery,        // open_nursery's scope (Nursery::cancel_scope())
  kSystemNursery,  // the run's system nursery: cancelling it cancels the run
};
// "CancelScope", "move_on_after", ..., "nursery", "system nursery".
const char* scope_kind_name(ScopeKind kind);

// Marker for the shielded variants: `move_on_after(d, trio::kShield, body)`.
struct ShieldTag {};
inline constexpr ShieldTag kShield{};

class CancelScope {
 public:
  // A scope without a deadline. (`site` records where it was created: leave it defaulted.)
  explicit CancelScope(SourceSite site = SourceSite::here())
      : site_line_(site.line), site_file_(site.file) {}
  // A scope with an absolute deadline on the run's clock.
  explicit CancelScope(TimePoint deadline, bool shield = false,
                       SourceSite site = SourceSite::here())
      : deadline_(deadline), shield_(shield), site_line_(site.line), site_file_(site.file) {}
  // A scope whose deadline is `timeout` after the moment it is entered (Trio's
  // `relative_deadline`). Throws ValueError for NaN or negative timeouts.
  template <class Rep, class Period>
  static CancelScope relative(std::chrono::duration<Rep, Period> timeout, bool shield = false,
                              SourceSite site = SourceSite::here()) {
    CancelScope s(site);
    s.relative_ = internal::to_duration(timeout, "timeout");
    s.shield_ = shield;
    return s;
  }

  // Scopes are pinned while entered; only unentered scopes may be moved.
  CancelScope(CancelScope&& other);
  CancelScope& operator=(CancelScope&&) = delete;
  CancelScope(const CancelScope&) = delete;
  ~CancelScope();

  // Enters the scope, runs `body` inside it, exits. Returns the body's value — as
  // `std::optional<T>`, empty if the scope caught a cancellation — or nothing for `Task<>`
  // bodies. Not a checkpoint by itself.
  template <class Body>
  auto enter(Body body);

  // Cancels the scope (idempotent; the reason and the cancelling task are recorded the first
  // time only). Allowed before entry. Not a checkpoint.
  void cancel();
  void cancel(std::string reason);

  // True once cancel() was called or the deadline passed (reading it checks the deadline, as
  // Trio's getter does). Never reverts.
  bool cancel_called();
  // True if this scope swallowed a Cancelled when it exited.
  bool cancelled_caught() const { return cancelled_caught_; }

  // Absolute deadline (kInf if none). On an unentered relative scope: RuntimeError.
  TimePoint deadline() const;
  void set_deadline(TimePoint deadline);
  // Relative deadline. Before entry: the stored value; after entry: deadline - now.
  // On an unentered absolute scope: RuntimeError.
  Duration relative_deadline() const;
  template <class Rep, class Period>
  void set_relative_deadline(std::chrono::duration<Rep, Period> timeout) {
    set_relative_deadline_ns(internal::to_duration(timeout, "relative deadline"));
  }
  // True/false before entry (relative or absolute), nullopt after entry.
  std::optional<bool> is_relative() const;

  bool shield() const { return shield_; }
  // Takes effect at once: raising it hides outer cancellations from blocked tasks inside;
  // lowering it delivers them.
  void set_shield(bool shield);

  // Names the scope in reports (cancellation exploration, ...). A string literal: the scope
  // keeps the pointer, so naming costs no allocation. Not a checkpoint.
  template <size_t N>
  void set_name(const char (&name)[N]) {
    name_ = name;
  }
  const char* name() const { return name_; }  // null if unnamed
  ScopeKind kind() const { return kind_; }
  SourceSite site() const { return SourceSite{site_file_, site_line_}; }
  // Kind, name and site, e.g. `move_on_after "fetch timeout" at app/fetch.cc:42`, or
  // `the system nursery`.
  std::string description() const;

  // ---- internal (used by the runtime) ----
  void open_(internal::TaskRec* task);
  std::exception_ptr close_(std::exception_ptr exc);
  void cancel_(internal::CancelReason reason);
  void expire_deadline_();
  internal::CancelStatus& status_() { return status_storage_; }
  const internal::CancelReason& reason_() const { return reason_storage_; }
  void inherit_reason_(const internal::CancelReason& r) { reason_storage_ = r; }
  bool cancel_called_value_() const { return cancel_called_; }
  TimePoint deadline_unchecked_() const { return deadline_; }
  bool is_entered_() const { return entered_ && !exited_; }
  // Records what opened the scope (move_on_after, open_nursery, the runner).
  CancelScope&& set_origin_(ScopeKind kind, SourceSite site) && {
    set_origin_lvalue_(kind, site);
    return std::move(*this);
  }
  void set_origin_lvalue_(ScopeKind kind, SourceSite site) {
    kind_ = kind;
    site_file_ = site.file;
    site_line_ = site.line;
  }
  uint32_t deadline_registration_ = 0;  // handle in the run's deadline table (0 = none)

 private:
  void set_relative_deadline_ns(Duration timeout);
  void update_registration();

  TimePoint deadline_ = kInf;
  Duration relative_ = kInfDuration;
  bool shield_ = false;
  bool cancel_called_ = false;
  bool cancelled_caught_ = false;
  bool entered_ = false;
  bool exited_ = false;
  // What opened the scope, for description(); the kind fits in the bools' padding.
  ScopeKind kind_ = ScopeKind::kCancelScope;
  uint32_t site_line_ = 0;
  const char* site_file_ = "";
  const char* name_ = nullptr;  // a string literal, or null
  internal::CancelReason reason_storage_;
  internal::CancelStatus status_storage_;
  internal::Runner* runner_ = nullptr;
  internal::TaskRec* owner_ = nullptr;
};

// The earliest deadline that applies to the current task, shields considered: kNegInf if a
// cancellation is active now, kInf if there is none. Not a checkpoint.
TimePoint current_effective_deadline();

namespace internal {

template <class Body>
auto invoke_body(Body& body, CancelScope& scope) {
  if constexpr (std::is_invocable_v<Body&, CancelScope&>)
    return body(scope);
  else
    return body();
}

template <class Body>
using ScopeBodyResult =
    typename decltype(invoke_body(std::declval<Body&>(), std::declval<CancelScope&>()))::value_type;

template <class Body>
constexpr void check_body() {
  static_assert(std::is_trivially_destructible_v<Body>,
                "trio: a scope or nursery body must be trivially destructible: capture by "
                "reference ([&]) instead of by value (g++ 12 destroys the captures of a closure "
                "temporary inside co_await twice, GCC PR 100611). The body runs before the "
                "co_await completes, so references to the enclosing frame are safe.");
}

template <class T, class Body>
Task<std::conditional_t<std::is_void_v<T>, void, std::optional<T>>> scope_enter_impl(
    CancelScope* scope, Body body) {
  scope->open_(current_task_for_scope());
  std::exception_ptr exc;
  if constexpr (std::is_void_v<T>) {
    try {
      co_await invoke_body(body, *scope);
    } catch (...) {
      exc = std::current_exception();
    }
    exc = scope->close_(std::move(exc));
    if (exc) std::rethrow_exception(exc);
  } else {
    std::optional<T> value;
    try {
      value.emplace(co_await invoke_body(body, *scope));
    } catch (...) {
      exc = std::current_exception();
    }
    exc = scope->close_(std::move(exc));
    if (exc) std::rethrow_exception(exc);
    co_return value;
  }
}

}  // namespace internal

template <class Body>
auto CancelScope::enter(Body body) {
  internal::check_body<Body>();
  return internal::scope_enter_impl<internal::ScopeBodyResult<Body>>(this, body);
}

namespace internal {
template <class T, class Body>
Task<std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>> move_on_impl(CancelScope scope,
                                                                                 Body body) {
  if constexpr (std::is_void_v<T>) {
    co_await scope.enter(body);
    co_return scope.cancelled_caught();
  } else {
    co_return co_await scope.enter(body);
  }
}

template <class T, class Body>
Task<T> fail_impl(CancelScope scope, Body body) {
  if constexpr (std::is_void_v<T>) {
    co_await scope.enter(body);
    if (scope.cancelled_caught()) throw TooSlowError();
  } else {
    std::optional<T> v = co_await scope.enter(body);
    if (scope.cancelled_caught()) throw TooSlowError();
    co_return std::move(*v);
  }
}
}  // namespace internal

// Runs `body` with a deadline `timeout` after entry. For a `Task<>` body, returns true if the
// deadline (or a cancel of the scope) interrupted it — "moved on" — else false. For `Task<T>`,
// returns the value, or nullopt if interrupted. ValueError for NaN/negative `timeout`. (The last
// parameter of these functions records the caller's file:line for the scope's description: leave
// it defaulted.)
template <class Rep, class Period, class Body>
auto move_on_after(std::chrono::duration<Rep, Period> timeout, Body body,
                   SourceSite site = SourceSite::here()) {
  internal::check_body<Body>();
  return internal::move_on_impl<internal::ScopeBodyResult<Body>>(
      CancelScope::relative(internal::to_duration(timeout, "`seconds`"))
          .set_origin_(ScopeKind::kMoveOnAfter, site),
      body);
}
template <class Rep, class Period, class Body>
auto move_on_after(std::chrono::duration<Rep, Period> timeout, ShieldTag, Body body,
                   SourceSite site = SourceSite::here()) {
  internal::check_body<Body>();
  return internal::move_on_impl<internal::ScopeBodyResult<Body>>(
      CancelScope::relative(internal::to_duration(timeout, "`seconds`"), true)
          .set_origin_(ScopeKind::kMoveOnAfter, site),
      body);
}
// As move_on_after, with an absolute deadline.
template <class Body>
auto move_on_at(TimePoint deadline, Body body, SourceSite site = SourceSite::here()) {
  internal::check_body<Body>();
  return internal::move_on_impl<internal::ScopeBodyResult<Body>>(
      CancelScope(deadline).set_origin_(ScopeKind::kMoveOnAt, site), body);
}
template <class Body>
auto move_on_at(TimePoint deadline, ShieldTag, Body body, SourceSite site = SourceSite::here()) {
  internal::check_body<Body>();
  return internal::move_on_impl<internal::ScopeBodyResult<Body>>(
      CancelScope(deadline, true).set_origin_(ScopeKind::kMoveOnAt, site), body);
}

// Runs `body` with a deadline `timeout` after entry; if the scope caught a cancellation, throws
// TooSlowError. Returns the body's value.
template <class Rep, class Period, class Body>
auto fail_after(std::chrono::duration<Rep, Period> timeout, Body body,
                SourceSite site = SourceSite::here()) {
  internal::check_body<Body>();
  return internal::fail_impl<internal::ScopeBodyResult<Body>>(
      CancelScope::relative(internal::to_duration(timeout, "`seconds`"))
          .set_origin_(ScopeKind::kFailAfter, site),
      body);
}
template <class Rep, class Period, class Body>
auto fail_after(std::chrono::duration<Rep, Period> timeout, ShieldTag, Body body,
                SourceSite site = SourceSite::here()) {
  internal::check_body<Body>();
  return internal::fail_impl<internal::ScopeBodyResult<Body>>(
      CancelScope::relative(internal::to_duration(timeout, "`seconds`"), true)
          .set_origin_(ScopeKind::kFailAfter, site),
      body);
}
template <class Body>
auto fail_at(TimePoint deadline, Body body, SourceSite site = SourceSite::here()) {
  internal::check_body<Body>();
  return internal::fail_impl<internal::ScopeBodyResult<Body>>(
      CancelScope(deadline).set_origin_(ScopeKind::kFailAt, site), body);
}
template <class Body>
auto fail_at(TimePoint deadline, ShieldTag, Body body, SourceSite site = SourceSite::here()) {
  internal::check_body<Body>();
  return internal::fail_impl<internal::ScopeBodyResult<Body>>(
      CancelScope(deadline, true).set_origin_(ScopeKind::kFailAt, site), body);
}

}  // namespace trio

#endif  // TRIO_RUNTIME_CANCEL_SCOPE_H_
