// SPDX-License-Identifier: Apache-2.0 OR MIT
// A g++ 12 miscompilation users of channels will meet (docs/compiler-pitfalls.md, "Braced
// aggregates in a co_await"): in `co_await tx.send(Request{...})` g++ 12 constructs the
// aggregate's members in a hidden slot of the coroutine frame, copies them bitwise into the
// aggregate, and destroys both — every member is destroyed twice. A counting member type
// (constructions minus destructions, which must end at zero) detects it in every configuration;
// ASan reports the use-after-free of a shared_ptr member in the DISABLED_ test, run with
//   ./bazelw test --config=asan --test_arg=--gtest_also_run_disabled_tests
//       //runtime:channel_aggregate_test
// The bug happens before send() is entered, so no signature of send() avoids it
// (NoParameterFormAvoidsTheDoubleDestruction shows it for each form); these tests pin the
// compiler's behaviour and prove that the two documented workarounds — a named value moved in, a
// type with a constructor — are destroyed once.
#include <gtest/gtest.h>

#include <coroutine>
#include <memory>
#include <utility>

#include "runtime/channel.h"
#include "runtime/testing/sim_test_support.h"
#include "runtime/trio.h"

namespace {

// Counts its live instances: every constructor adds one, the destructor removes one.
struct Tracked {
  static inline int live = 0;
  Tracked() { ++live; }
  Tracked(const Tracked&) { ++live; }
  Tracked(Tracked&&) noexcept { ++live; }
  Tracked& operator=(const Tracked&) = default;
  Tracked& operator=(Tracked&&) = default;
  ~Tracked() { --live; }
};

// An aggregate, as users write their messages.
struct Request {
  int id = 0;
  std::shared_ptr<int> body;
  Tracked tracked;
};

// The same message with a constructor: not an aggregate.
// [START pitfall_aggregate_constructor_type]
struct RequestWithConstructor {
  RequestWithConstructor(int id_in, std::shared_ptr<int> body_in)
      : id(id_in), body(std::move(body_in)) {}
  int id = 0;
  std::shared_ptr<int> body;
  Tracked tracked;
};
// [END pitfall_aggregate_constructor_type]

// An aggregate whose members own nothing, so a double destruction corrupts no memory.
struct CountedOnly {
  int id = 0;
  Tracked tracked;
};

// True on the compiler the note describes as miscompiling a braced aggregate in a co_await.
constexpr bool kGcc12 =
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
    true;
#else
    false;
#endif

TEST(MemoryChannelAggregateArgument, ANamedValueMovedInIsDestroyedOnce) {
  Tracked::live = 0;
  auto body = std::make_shared<int>(7);
  sim_test::sim_run([&]() -> trio::Task<> {
    auto [tx, rx] = trio::open_memory_channel<Request>(1);
    // [START pitfall_aggregate_named]
    Request r{.id = 1, .body = body, .tracked = {}};
    co_await tx.send(std::move(r));
    // [END pitfall_aggregate_named]
    Request got = co_await rx.receive();
    EXPECT_EQ(*got.body, 7);
    EXPECT_EQ(body.use_count(), 2);  // ours and got's
  });
  EXPECT_EQ(body.use_count(), 1);
  EXPECT_EQ(Tracked::live, 0);
}

TEST(MemoryChannelAggregateArgument, ATypeWithAConstructorIsDestroyedOnce) {
  Tracked::live = 0;
  auto body = std::make_shared<int>(7);
  sim_test::sim_run([&]() -> trio::Task<> {
    auto [tx, rx] = trio::open_memory_channel<RequestWithConstructor>(1);
    // [START pitfall_aggregate_constructor]
    co_await tx.send(RequestWithConstructor{1, body});
    // [END pitfall_aggregate_constructor]
    RequestWithConstructor got = co_await rx.receive();
    EXPECT_EQ(*got.body, 7);
    EXPECT_EQ(body.use_count(), 2);
  });
  EXPECT_EQ(body.use_count(), 1);
  EXPECT_EQ(Tracked::live, 0);
}

// Pins the compiler bug: if a g++ 12 update fixes it, or another compiler has it, this fails
// and the note in docs/compiler-pitfalls.md needs updating.
TEST(MemoryChannelAggregateArgument, Gcc12DestroysABracedAggregatesMembersTwice) {
  Tracked::live = 0;
  sim_test::sim_run([]() -> trio::Task<> {
    auto [tx, rx] = trio::open_memory_channel<CountedOnly>(1);
    co_await tx.send(CountedOnly{.id = 1, .tracked = {}});
    CountedOnly got = co_await rx.receive();
    EXPECT_EQ(got.id, 1);
  });
  EXPECT_EQ(Tracked::live, kGcc12 ? -1 : 0) << "constructions minus destructions";
}

// An awaitable holding a value, as trio's send awaitables do; it completes without suspending.
template <class T>
struct Holding {
  T value;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<>) const noexcept { return false; }
  void await_resume() const noexcept {}
};
Holding<CountedOnly> by_value(CountedOnly v) { return {std::move(v)}; }
Holding<CountedOnly> by_rvalue_reference(CountedOnly&& v) { return {std::move(v)}; }
template <class U>
Holding<CountedOnly> forwarding(U&& v) {
  return {CountedOnly(std::forward<U>(v))};  // converts inside the callee
}

// The evidence that no library-side guard exists: whatever the parameter's form, the members
// are destroyed twice on g++ 12, because the damage is done while the caller builds the
// argument, before the callee is entered.
TEST(MemoryChannelAggregateArgument, NoParameterFormAvoidsTheDoubleDestruction) {
  const int expected = kGcc12 ? -1 : 0;
  sim_test::sim_run([&]() -> trio::Task<> {
    Tracked::live = 0;
    co_await by_value(CountedOnly{.id = 1, .tracked = {}});
    EXPECT_EQ(Tracked::live, expected) << "by value";
    Tracked::live = 0;
    co_await by_value({.id = 1, .tracked = {}});
    EXPECT_EQ(Tracked::live, expected) << "by value, a bare braced list";
    Tracked::live = 0;
    co_await by_rvalue_reference(CountedOnly{.id = 1, .tracked = {}});
    EXPECT_EQ(Tracked::live, expected) << "by rvalue reference";
    Tracked::live = 0;
    co_await forwarding(CountedOnly{.id = 1, .tracked = {}});
    EXPECT_EQ(Tracked::live, expected) << "a forwarding template";
    Tracked::live = 0;
    CountedOnly named{.id = 1, .tracked = {}};
    co_await by_value(std::move(named));
    EXPECT_EQ(Tracked::live, 1) << "a named value: only `named` itself is live";
  });
}

// The use-after-free users hit; disabled because g++ 12 builds crash it (see the file comment).
TEST(MemoryChannelAggregateArgument, DISABLED_ABracedAggregateWithASharedPtrInACoAwait) {
  Tracked::live = 0;
  auto body = std::make_shared<int>(7);
  sim_test::sim_run([&]() -> trio::Task<> {
    auto [tx, rx] = trio::open_memory_channel<Request>(1);
    // [START pitfall_aggregate_bug]
    co_await tx.send(Request{.id = 1, .body = body, .tracked = {}});
    // [END pitfall_aggregate_bug]
    Request got = co_await rx.receive();
    EXPECT_EQ(*got.body, 7);
    EXPECT_EQ(body.use_count(), 2);
  });
  EXPECT_EQ(body.use_count(), 1);
  EXPECT_EQ(Tracked::live, 0);
}

}  // namespace
