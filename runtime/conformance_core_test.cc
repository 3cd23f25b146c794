// SPDX-License-Identifier: Apache-2.0 OR MIT
// Conformance with Trio itself, core statements: replays every program of the core corpus
// (testdata/conformance/core/core-*.json, made by gen.py: sleeps, logs, raises, cancel scopes,
// nurseries, catching) with conformance_interp's mirror of run_trio.py, and checks that
// trio-cpp's event log equals the log Trio 0.34 produced (core-*.out) after sorting lines within
// each instant — under several scheduling policies and seeds, since the corpus is
// schedule-independent — and that no coroutine frame outlives the run.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "runtime/testing/conformance_interp.h"

namespace {

class CoreConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(CoreConformance, LogMatchesTrioUnderEverySchedulingPolicy) {
  conformance::expect_conforms("core", GetParam());
}

INSTANTIATE_TEST_SUITE_P(Core, CoreConformance,
                         ::testing::ValuesIn(conformance::corpus_programs("core")),
                         conformance::program_test_name);

TEST(ConformanceCorpus, AllFourHundredCoreProgramsArePresent) {
  EXPECT_EQ(conformance::corpus_programs("core").size(), 400u)
      << "looked in " << conformance::corpus_dir("core");
}

TEST(ConformanceInterpreter, JsonReaderReadsTheCorpusSubset) {
  const conformance::Json j =
      conformance::parse_json(R"([["scope", 3, null, true, false, []], -7, "x"])");
  ASSERT_EQ(j.a.size(), 3u);
  EXPECT_EQ(j[0][0].as_string(), "scope");
  EXPECT_EQ(j[0][1].as_int(), 3);
  EXPECT_TRUE(j[0][2].is_null());
  EXPECT_TRUE(j[0][3].as_bool());
  EXPECT_FALSE(j[0][4].as_bool());
  EXPECT_TRUE(j[0][5].a.empty());
  EXPECT_EQ(j[1].as_int(), -7);
  EXPECT_EQ(j[2].as_string(), "x");
  EXPECT_THROW(conformance::parse_json("[1,]"), std::runtime_error);
}

}  // namespace
