// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// main() for test binaries with TRIO_TESTs (//testing:trio_test_main, in place of gtest_main):
// gtest's and gMock's flags, then trio's Abseil flags: --trio_seed=N runs every TRIO_TEST with
// seed N. `--help` prints gtest's help, then the Abseil flags of trio's and the test's sources.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "testing/trio_test.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleMock(&argc, argv);
  absl::SetProgramUsageMessage(
      "a trio-cpp test binary. gtest's flags (--gtest_*) are listed above; these are trio's and "
      "the test's own.");
  // absl's --help lists the flags of the binary's main file by default; ours live in the
  // libraries (testing/trio_test.cc), so list every flag not defined by Abseil itself.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return !absl::StrContains(file, "absl/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  std::string error;
  if (!trio::testing::internal::parse_flags(&argc, argv, &error)) {
    std::fprintf(stderr, "%s: %s\n", argv[0], error.c_str());
    return 2;
  }
  return RUN_ALL_TESTS();
}
