// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// main() for test binaries with TRIO_TESTs (//testing:trio_test_main, in place of gtest_main):
// gtest's and gMock's flags, then trio's: --trio_seed=N runs every TRIO_TEST with seed N.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "testing/trio_test.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleMock(&argc, argv);
  std::string error;
  if (!trio::testing::internal::parse_flags(&argc, argv, &error)) {
    std::fprintf(stderr, "%s: %s\n", argv[0], error.c_str());
    return 2;
  }
  return RUN_ALL_TESTS();
}
