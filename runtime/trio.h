// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// trio-cpp: Trio's structured concurrency for C++20 coroutines. Include this one header.
//
//   #include "runtime/trio.h"
//   trio::Task<> child(int i) { co_await trio::sleep(std::chrono::seconds(1)); }
//   trio::Task<> parent() {
//     co_await trio::open_nursery([&](trio::Nursery& n) -> trio::Task<> {
//       n.start_soon(child, 1);
//       n.start_soon(child, 2);
//       co_return;
//     });
//   }
//   int main() { trio::run(parent); }
#ifndef TRIO_RUNTIME_TRIO_H_
#define TRIO_RUNTIME_TRIO_H_

#include "runtime/cancel_scope.h"
#include "runtime/choice.h"
#include "runtime/clock.h"
#include "runtime/epoll_backend.h"
#include "runtime/errors.h"
#include "runtime/instrument.h"
#include "runtime/io_backend.h"
#include "runtime/lowlevel.h"
#include "runtime/nursery.h"
#include "runtime/run.h"
#include "runtime/run_options.h"
#include "runtime/sleep.h"
#include "runtime/task.h"
#include "runtime/time.h"

#endif  // TRIO_RUNTIME_TRIO_H_
