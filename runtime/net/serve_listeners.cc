// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/net/serve_listeners.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace trio::net_internal {

bool is_accept_capacity_errno(int error) {
  return error == EMFILE || error == ENFILE || error == ENOMEM || error == ENOBUFS;
}

namespace {
const char* errno_name(int error) {
  switch (error) {
    case EMFILE:
      return "EMFILE";
    case ENFILE:
      return "ENFILE";
    case ENOMEM:
      return "ENOMEM";
    case ENOBUFS:
      return "ENOBUFS";
    default:
      return "?";
  }
}
}  // namespace

void log_accept_capacity_error(const std::system_error& error) {
  // Trio logs to the "trio.serve_listeners" logger; we have no logging layer, so one line on
  // stderr, which a server's operator sees.
  const double delay_s = std::chrono::duration<double>(kAcceptCapacityRetryDelay).count();
  std::fprintf(stderr, "trio.serve_listeners: accept returned %s (%s); retrying in %g seconds\n",
               errno_name(error.code().value()), error.code().message().c_str(), delay_s);
}

}  // namespace trio::net_internal
