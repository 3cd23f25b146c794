// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Test helper for the testing layer's own tests: captures the gtest failures reported on this
// thread between construction and stop(), instead of failing the running test. Unlike gtest's
// EXPECT_NONFATAL_FAILURE it can span a co_await, and it returns every failure for inspection.
//
//   FailureCapture capture;
//   co_await trio::testing::assert_checkpoints([&]() -> trio::Task<> { co_return; });
//   std::vector<::testing::TestPartResult> failures = capture.stop();
//   EXPECT_EQ(failures.size(), 1u);
#ifndef TRIO_TESTING_FAILURE_CAPTURE_H_
#define TRIO_TESTING_FAILURE_CAPTURE_H_

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"

namespace trio::testing {

class FailureCapture {
 public:
  FailureCapture()
      : reporter_(std::make_unique<::testing::ScopedFakeTestPartResultReporter>(
            ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD,
            &results_)) {}
  FailureCapture(const FailureCapture&) = delete;
  FailureCapture& operator=(const FailureCapture&) = delete;

  // Stops capturing (later failures fail the test again) and returns what was captured.
  std::vector<::testing::TestPartResult> stop() {
    reporter_.reset();
    std::vector<::testing::TestPartResult> out;
    for (int i = 0; i < results_.size(); ++i) out.push_back(results_.GetTestPartResult(i));
    return out;
  }

 private:
  ::testing::TestPartResultArray results_;
  // A unique_ptr, not an optional: g++ 12 at -O1 warns (maybe-uninitialized) on the optional.
  std::unique_ptr<::testing::ScopedFakeTestPartResultReporter> reporter_;
};

// The failures `fn()` reports.
inline std::vector<::testing::TestPartResult> failures_of(absl::FunctionRef<void()> fn) {
  FailureCapture capture;
  fn();
  return capture.stop();
}

// The failures' messages.
inline std::vector<std::string> messages(const std::vector<::testing::TestPartResult>& results) {
  std::vector<std::string> out;
  for (const auto& r : results) out.push_back(r.message());
  return out;
}

}  // namespace trio::testing

#endif  // TRIO_TESTING_FAILURE_CAPTURE_H_
