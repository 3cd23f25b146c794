// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Proves that each third-party library in //third_party is installed, that its headers compile
// with our flags (C++20, -Wall -Wextra -Werror) and that it links and runs, in every build
// configuration. One small use per library; a failure here means a Debian package or a wrapper
// in third_party/system_libs.BUILD is wrong, not trio-cpp code.

#include <benchmark/benchmark.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <asio.hpp>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/hash/hash.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

ABSL_FLAG(int, deps_test_answer, 42, "A flag, to prove absl::flags links.");

namespace {

TEST(Deps, GoogleMockMatchers) {
  std::vector<int> v = {1, 2, 3};
  EXPECT_THAT(v, ::testing::ElementsAre(1, 2, 3));
}

RC_GTEST_PROP(Deps, RapidcheckReverseTwiceIsIdentity, (const std::vector<int>& v)) {
  std::vector<int> r(v.rbegin(), v.rend());
  std::vector<int> rr(r.rbegin(), r.rend());
  RC_ASSERT(rr == v);
}

TEST(Deps, AbseilStrings) {
  EXPECT_EQ(absl::StrFormat("%s=%d", "x", 7), "x=7");
  EXPECT_EQ(absl::StrCat("a", 1, "b"), "a1b");
  std::vector<std::string> parts = absl::StrSplit("a,b,c", ',');
  EXPECT_EQ(parts.size(), 3u);
}

TEST(Deps, AbseilContainersAndHash) {
  absl::flat_hash_map<std::string, int> m;
  m["one"] = 1;
  absl::btree_map<int, int> b = {{2, 20}, {1, 10}};
  absl::InlinedVector<int, 4> iv = {1, 2};
  EXPECT_EQ(m.at("one"), 1);
  EXPECT_EQ(b.begin()->second, 10);
  EXPECT_EQ(absl::Span<const int>(iv.data(), iv.size()).size(), 2u);
  EXPECT_EQ(absl::Hash<int>{}(5), absl::Hash<int>{}(5));
}

TEST(Deps, AbseilSynchronizationTimeFunctional) {
  absl::Mutex mu;
  absl::Notification done;
  int value = 0;
  absl::AnyInvocable<void()> set = [&] {
    absl::MutexLock lock(&mu);
    value = 1;
    done.Notify();
  };
  set();
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(1)));
  auto read = [&] {
    absl::MutexLock lock(&mu);
    return value;
  };
  absl::FunctionRef<int()> ref = read;
  EXPECT_EQ(ref(), 1);
}

TEST(Deps, AbseilFlagsStatusRandom) {
  char arg0[] = "deps_test";
  char arg1[] = "--deps_test_answer=43";
  char* argv[] = {arg0, arg1};
  std::vector<char*> rest = absl::ParseCommandLine(2, argv);
  EXPECT_EQ(rest.size(), 1u);
  EXPECT_EQ(absl::GetFlag(FLAGS_deps_test_answer), 43);
  absl::StatusOr<int> s = absl::NotFoundError("missing");
  EXPECT_FALSE(s.ok());
  absl::BitGen gen;
  int r = absl::Uniform(gen, 0, 10);
  EXPECT_GE(r, 0);
  EXPECT_LT(r, 10);
}

// Only the const overload of DoNotOptimize: in Benchmark 1.7.1 the non-const one (asm "+m,r")
// lets g++ at -O1 and above clobber the variable (fixed upstream in 1.8).
TEST(Deps, GoogleBenchmarkHeaders) {
  const int x = 3;
  benchmark::DoNotOptimize(x);
  benchmark::ClobberMemory();
  EXPECT_EQ(x, 3);
}

TEST(Deps, StandaloneAsio) {
  asio::io_context io;
  int ran = 0;
  asio::post(io, [&] { ++ran; });
  io.run();
  EXPECT_EQ(ran, 1);
}

}  // namespace
