// SPDX-License-Identifier: Apache-2.0 OR MIT
// Conformance with Trio itself, stream programs: replays every `memory` and `lockstep` program
// of the stream corpus (testdata/conformance/streams, made by gen_streams.py) with the core
// interpreter plus the stream statements (io_fake/testing/stream_conformance.h), and checks
// that trio-cpp's log equals the one Trio produced after sorting the lines within each instant
// — under every scheduling policy of the core suite — and that no coroutine frame leaks.
// `socketpair` programs run on SocketStreams over a real socketpair(AF_UNIX, SOCK_STREAM).
#include "io_fake/testing/stream_conformance.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "runtime/lowlevel.h"
#include "runtime/testing/conformance_interp.h"

namespace {

class StreamConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(StreamConformance, LogMatchesTrioUnderEverySchedulingPolicy) {
  const std::string base = stream_conformance::corpus_dir() + "/" + GetParam();
  const stream_conformance::Program program = stream_conformance::load_program(base);
  const stream_conformance::PairMaker maker = stream_conformance::stream_pair_maker(program.kind);
  if (!maker) GTEST_SKIP() << program.kind << " programs need SocketStream";
  const std::vector<std::string> want = stream_conformance::load_normalized_log(base);
  bool printed_logs = false;
  for (const conformance::Policy& p : conformance::policies()) {
    stream_conformance::StreamStatements streams(maker);
    const std::vector<std::string> got =
        conformance::normalize(conformance::run_program(program.body, p.policy, p.seed, &streams));
    const std::string diff = conformance::compare_logs(want, got);
    if (!diff.empty()) {
      ADD_FAILURE() << GetParam() << " (" << program.kind << ") under " << p.name << ": "
                    << (printed_logs ? diff.substr(0, diff.find("trio (normalized)")) : diff);
      printed_logs = true;
    }
    EXPECT_EQ(trio::lowlevel::live_frames(), 0) << GetParam() << " under " << p.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Streams, StreamConformance,
                         ::testing::ValuesIn(stream_conformance::corpus_programs()),
                         conformance::program_test_name);

TEST(StreamConformanceCorpus, AllThreeHundredProgramsArePresentAndRunnable) {
  const std::vector<std::string> names = stream_conformance::corpus_programs();
  EXPECT_EQ(names.size(), 300u) << "looked in " << stream_conformance::corpus_dir();
  int runnable = 0, skipped = 0;
  for (const std::string& name : names) {
    const auto program =
        stream_conformance::load_program(stream_conformance::corpus_dir() + "/" + name);
    (stream_conformance::stream_pair_maker(program.kind) ? runnable : skipped)++;
  }
  std::printf("%d programs replayed (memory, lockstep, socketpair); %d skipped\n", runnable,
              skipped);
  EXPECT_EQ(runnable, 300);
  EXPECT_EQ(skipped, 0);
}

}  // namespace
