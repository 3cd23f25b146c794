// SPDX-License-Identifier: Apache-2.0 OR MIT
// Conformance with Trio itself, sync primitives and channels: replays every program of the sync
// corpus (testdata/conformance/sync/sync-*.json, made by gen_sync.py: the core statements plus
// events, locks, a semaphore and two memory channels shared by several tasks) with
// conformance_interp's mirror of run_trio.py, and checks that trio-cpp's event log — including
// Trio's misuse message, e.g. RuntimeError(attempt to re-acquire an already held Lock) — equals
// the log Trio 0.34 produced (sync-*.out) after sorting lines within each instant, under every
// scheduling policy the core replay uses, with no coroutine frame outliving the run.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/testing/conformance_interp.h"

namespace {

class SyncConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(SyncConformance, LogMatchesTrioUnderEverySchedulingPolicy) {
  conformance::expect_conforms("sync", GetParam());
}

INSTANTIATE_TEST_SUITE_P(Sync, SyncConformance,
                         ::testing::ValuesIn(conformance::corpus_programs("sync")),
                         conformance::program_test_name);

TEST(ConformanceCorpus, AllThreeHundredSyncProgramsArePresent) {
  EXPECT_EQ(conformance::corpus_programs("sync").size(), 300u)
      << "looked in " << conformance::corpus_dir("sync");
}

}  // namespace
