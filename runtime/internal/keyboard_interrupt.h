// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Internal: KeyboardInterrupt delivery (Trio's ki_pending and SIGINT handling, spec §2.11).
//
// A run on the main thread installs a SIGINT handler if SIGINT has its default action (Trio's
// "good neighbour" rule). The handler calls Runner::interrupt() (async-signal-safe), which marks
// a KeyboardInterrupt pending for the main task and wakes an I/O wait; the Runner's
// take_keyboard_interrupt / attempt_delivery_of_pending_keyboard_interrupt (defined in
// keyboard_interrupt.cc) raise it in the main task. This header holds the process-global part.
#ifndef TRIO_RUNTIME_INTERNAL_KEYBOARD_INTERRUPT_H_
#define TRIO_RUNTIME_INTERNAL_KEYBOARD_INTERRUPT_H_

namespace trio::internal {

class Runner;

// Installs the SIGINT handler for `runner`: only on the main thread, only if SIGINT has its
// default action. Returns true if installed (then restore_sigint_handler() must follow).
bool install_sigint_handler(Runner& runner);
// Puts back the handler install_sigint_handler() replaced (unless someone replaced ours since)
// and waits until no handler is still using the runner.
void restore_sigint_handler();

}  // namespace trio::internal

#endif  // TRIO_RUNTIME_INTERNAL_KEYBOARD_INTERRUPT_H_
