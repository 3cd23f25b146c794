// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// trio-cpp's testing layer (Trio's trio.testing), for tests only (every target is testonly):
//
//   testing/trio_test.h     TRIO_TEST, TRIO_TEST_F, ...: async GoogleTest tests on a virtual
//                           clock with a seed, a repro line on failure and a leak check;
//                           CO_ASSERT_* for coroutines
//   testing/checkpoints.h   assert_checkpoints, assert_no_checkpoints, wait_all_tasks_blocked
//   testing/sequencer.h     Sequencer: force an interleaving of tasks
//   testing/exceptions.h    capture_exception, describe_exception, and gMock matchers on
//                           std::exception_ptr (HoldsException, IsCancelled, IsExceptionGroup)
//
// Link //testing:trio_test_main as the test's main (it parses --trio_seed). docs/testing.md
// shows how to write, run and reproduce a test.
#ifndef TRIO_TESTING_TESTING_H_
#define TRIO_TESTING_TESTING_H_

#include "testing/checkpoints.h"
#include "testing/exceptions.h"
#include "testing/sequencer.h"
#include "testing/trio_test.h"

#endif  // TRIO_TESTING_TESTING_H_
