// SPDX-License-Identifier: Apache-2.0 OR MIT
// Internal: the only way to construct a trio::Cancelled.
#ifndef TRIO_RUNTIME_INTERNAL_CANCELLED_ACCESS_H_
#define TRIO_RUNTIME_INTERNAL_CANCELLED_ACCESS_H_

#include <string>

#include "runtime/errors.h"

namespace trio::internal {

struct CancelledAccess {
  static Cancelled make(Cancelled::Source source, bool has_reason, std::string reason,
                        std::string source_task);
};

}  // namespace trio::internal

#endif  // TRIO_RUNTIME_INTERNAL_CANCELLED_ACCESS_H_
