// SPDX-License-Identifier: Apache-2.0 OR MIT
// Nursery::start keeps a resource-owning callable alive and runs it: a lambda that owns a
// unique_ptr (init-capture), named and moved into start(), hands its value to the caller.
//
// g++ 12 pitfall (GCC PR 100611, docs/compiler-pitfalls.md): written inline, as a temporary
// inside `co_await nursery.start(...)`, the same lambda is destroyed twice — a double free that
// ASan reports. The runtime cannot tell a temporary from a moved variable, so it cannot reject
// the inline form; the DISABLED_ test reproduces it (run with --gtest_also_run_disabled_tests
// under --config=trio_asan), clang 14 is unaffected.
#include <gtest/gtest.h>

#include <memory>
#include <utility>

#include "runtime/testing/sim_test_support.h"
#include "runtime/trio.h"

namespace {

using trio::Task;

TEST(NurseryStart, NamedResourceOwningCallableIsKeptAliveAndRuns) {
  int got = 0;
  sim_test::sim_run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& nursery) -> Task<> {
      auto value = std::make_unique<int>(7);
      // [START pitfall_start_named]
      auto child = [owned = std::move(value)](trio::TaskStatus<int>& status) -> Task<> {
        status.started(*owned);
        co_return;
      };
      got = co_await nursery.start<int>(std::move(child));
      // [END pitfall_start_named]
    });
  });
  EXPECT_EQ(got, 7);
}

TEST(NurseryStart, DISABLED_InlineResourceOwningLambdaHitsGccPr100611) {
  int got = 0;
  sim_test::sim_run([&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& nursery) -> Task<> {
      auto value = std::make_unique<int>(7);
      got = co_await nursery.start<int>(
          [owned = std::move(value)](trio::TaskStatus<int>& status) -> Task<> {
            status.started(*owned);
            co_return;
          });
    });
  });
  EXPECT_EQ(got, 7);
}

}  // namespace
