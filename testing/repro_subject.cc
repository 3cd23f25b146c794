// SPDX-License-Identifier: Apache-2.0 OR MIT
// The subject of repro_test.sh (a binary, not a test: it always fails). Its TRIO_TEST records
// the order in which six tasks finish — the schedule its seed chose — and fails with it, so the
// script can check the failure's seed and repro line, and that the repro line gives the same
// schedule.
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "runtime/trio.h"
#include "testing/testing.h"

namespace {

trio::Task<> record(std::string* schedule, int i) {
  for (int k = 0; k < 3; ++k) co_await trio::checkpoint();
  absl::StrAppend(schedule, i);
}

}  // namespace

TRIO_TEST(Repro, FailsWithItsSchedule) {
  std::string schedule;
  co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
    for (int i = 0; i < 6; ++i) n.start_soon(record, &schedule, i);
    co_return;
  });
  ADD_FAILURE() << "schedule: " << schedule;
}
