// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// ./bazelw run //examples:tracer — Trio's tutorial "Task switching illustrated": the
// tasks_intro program run with the Tracer instrument, which prints each step of the run loop.
// See tracer_lib.h for the output and how it differs from Trio's.
#include <functional>
#include <iostream>

#include "examples/tasks_intro_lib.h"
#include "examples/tracer_lib.h"
#include "runtime/trio.h"

int main() {
  std::cout << std::unitbuf;
  // [START run_tracer]
  examples::Tracer tracer(std::cout);
  trio::run(trio::RunOptions{.instruments = {&tracer}}, examples::parent, std::ref(std::cout));
  // [END run_tracer]
  return 0;
}
