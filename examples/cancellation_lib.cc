// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "examples/cancellation_lib.h"

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "absl/strings/str_format.h"
#include "examples/tasks_intro_lib.h"

using namespace std::chrono_literals;

namespace examples {

namespace {

// Seconds since `start` on the run's clock, as "1.00".
std::string seconds_since(trio::TimePoint start) {
  return absl::StrFormat("%.2f", trio::to_seconds(trio::current_time() - start));
}

}  // namespace

trio::Task<std::string> slow_fetch(int seconds) {
  co_await trio::sleep(std::chrono::seconds(seconds));
  co_return "hello";
}

// [START fail_after]
trio::Task<> fetch_with_timeout(std::ostream& out) {
  const trio::TimePoint start = trio::current_time();
  try {
    std::string greeting = co_await trio::fail_after(1s, [&]() -> trio::Task<std::string> {
      out << "fetching...\n";
      co_return co_await slow_fetch(5);  // takes 5 seconds: too slow
    });
    out << "got: " << greeting << "\n";  // not reached
  } catch (const trio::TooSlowError& error) {
    out << "gave up after " << seconds_since(start) << " seconds: " << error.what() << "\n";
  }
}
// [END fail_after]

// [START move_on_after]
trio::Task<> move_on_examples(std::ostream& out) {
  // A Task<> body: move_on_after returns true if the deadline cut it short.
  bool moved_on =
      co_await trio::move_on_after(1s, [&]() -> trio::Task<> { co_await trio::sleep(5s); });
  out << "moved on: " << (moved_on ? "true" : "false") << "\n";

  // A Task<T> body: move_on_after returns std::optional<T>, empty if cut short.
  std::optional<std::string> greeting = co_await trio::move_on_after(
      1s, [&]() -> trio::Task<std::string> { co_return co_await slow_fetch(5); });
  if (!greeting) out << "no greeting after 1 second\n";

  greeting = co_await trio::move_on_after(
      2s, [&]() -> trio::Task<std::string> { co_return co_await slow_fetch(1); });
  if (greeting) out << "got: " << *greeting << " after 1s\n";
}
// [END move_on_after]

// [START nursery_timeout]
trio::Task<> parent_with_timeout(std::ostream& out) {
  const bool timed_out = co_await trio::move_on_after(500ms, [&]() -> trio::Task<> {
    co_await parent(out);  // tasks_intro's parent: its children sleep for 1 second
  });
  out << (timed_out ? "timed out: the children were cancelled\n" : "finished in time\n");
}
// [END nursery_timeout]

// [START careful_worker]
trio::Task<> careful_worker(std::ostream& out) {
  try {
    out << "worker: working...\n";
    co_await trio::sleep_forever();
  } catch (const trio::Cancelled& cancelled) {
    out << "worker: " << cancelled.to_string() << "; cleaning up\n";
    throw;  // always let Cancelled go on: the scope that was cancelled catches it
  }
}

trio::Task<> run_careful_worker(std::ostream& out) {
  const trio::TimePoint start = trio::current_time();
  co_await trio::move_on_after(1s, [&]() -> trio::Task<> { co_await careful_worker(out); });
  out << "main: moved on after " << seconds_since(start) << " seconds\n";
}
// [END careful_worker]

// [START swallowing_worker]
// DON'T do this: a catch-all that swallows Cancelled.
trio::Task<> swallowing_worker(std::ostream& out, trio::TimePoint start) {
  try {
    co_await trio::sleep(10s);
  } catch (...) {
    out << "swallower: caught something; carrying on\n";  // ...including Cancelled!
  }
  out << "swallower: still running at " << seconds_since(start)
      << " seconds, after the deadline!\n";
  co_await trio::sleep(10s);   // cancellation is level-triggered: this raises Cancelled again
  out << "swallower: done\n";  // not reached
}

trio::Task<> run_swallowing_worker(std::ostream& out) {
  const trio::TimePoint start = trio::current_time();
  co_await trio::move_on_after(1s,
                               [&]() -> trio::Task<> { co_await swallowing_worker(out, start); });
  out << "main: moved on\n";
}
// [END swallowing_worker]

// [START catch_all_rethrows]
// A catch-all done right: Cancelled goes on, every other error is logged and retried.
trio::Task<> retrying_worker(std::ostream& out) {
  for (int attempt = 1;; ++attempt) {
    try {
      co_await trio::sleep(400ms);
      throw std::runtime_error("flaky operation failed");
    } catch (const trio::Cancelled&) {
      throw;  // first, and always: never swallow a cancellation
    } catch (...) {
      out << "retrier: attempt " << attempt << " failed; retrying\n";
    }
  }
}

trio::Task<> run_retrying_worker(std::ostream& out) {
  const trio::TimePoint start = trio::current_time();
  co_await trio::move_on_after(1s, [&]() -> trio::Task<> { co_await retrying_worker(out); });
  out << "main: moved on after " << seconds_since(start) << " seconds\n";
}
// [END catch_all_rethrows]

// [START crash_cancels_siblings]
trio::Task<> crasher(std::ostream& out) {
  co_await trio::sleep(1s);
  out << "crasher: raising\n";
  throw std::runtime_error("crasher failed");
}

trio::Task<> sleeper(std::ostream& out) {
  try {
    co_await trio::sleep(10s);
    out << "sleeper: woke up\n";  // not reached: the crash cancels the nursery at 1 s
  } catch (const trio::Cancelled& cancelled) {
    out << "sleeper: " << cancelled.to_string() << "\n";
    throw;
  }
}

trio::Task<> crash_cancels_siblings(std::ostream& out) {
  try {
    co_await trio::open_nursery([&](trio::Nursery& nursery) -> trio::Task<> {
      nursery.start_soon(trio::TaskName("crasher"), crasher, std::ref(out));
      nursery.start_soon(trio::TaskName("sleeper"), sleeper, std::ref(out));
      co_return;
    });
  } catch (const trio::ExceptionGroup& group) {
    out << "main: caught " << group.to_string() << "\n";
    out << group.format_tree();
  }
}
// [END crash_cancels_siblings]

}  // namespace examples
