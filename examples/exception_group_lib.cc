// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "examples/exception_group_lib.h"

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace examples {

// [START failing_services]
// Both fail on their first step, before any checkpoint: neither can be cancelled by the other's
// failure first, so the nursery collects both errors. (Had they failed after a checkpoint at the
// same moment, the first failure would have cancelled the other one — one error, as in Trio.)
trio::Task<> load_config() {
  const std::string port = "eighty";  // as read from a config file
  if (port.find_first_not_of("0123456789") != std::string::npos)
    throw trio::ValueError("bad config: port must be a number");
  co_return;
}

trio::Task<> connect_to_database() {
  const bool reachable = false;  // as found out by a connection attempt
  if (!reachable) throw std::runtime_error("database unreachable");
  co_return;
}
// [END failing_services]

// [START exception_group]
trio::Task<> start_services(std::ostream& out) {
  try {
    co_await trio::open_nursery([&](trio::Nursery& nursery) -> trio::Task<> {
      nursery.start_soon(trio::TaskName("config"), load_config);
      nursery.start_soon(trio::TaskName("database"), connect_to_database);
      co_return;
    });
  } catch (const trio::ExceptionGroup& group) {
    // 1. The whole tree, one line per member, with the task that raised it.
    out << group.format_tree();

    // 2. The members one by one: exceptions()[i] was raised by task source_tasks()[i].
    for (size_t i = 0; i < group.size(); ++i) {
      out << "task " << group.source_tasks()[i]
          << " raised: " << trio::describe(group.exceptions()[i]) << "\n";
    }

    // 3. Handle the ValueErrors, let the rest go on (Python's `except* ValueError`).
    auto [value_errors, rest] = group.split<trio::ValueError>();
    if (value_errors) out << "handled: " << trio::describe(value_errors) << "\n";
    if (rest) std::rethrow_exception(rest);
  }
}

trio::Task<> exception_group_example(std::ostream& out) {
  try {
    co_await start_services(out);
  } catch (const trio::ExceptionGroup& rest) {
    out << "main: still failing: " << rest.format_tree();
  }
}
// [END exception_group]

}  // namespace examples
