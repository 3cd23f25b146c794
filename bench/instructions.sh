#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# Instructions per operation (callgrind), for the scenarios of op_driver.cc:
#   bench/instructions.sh                 every scenario
#   bench/instructions.sh cp buf          some of them
# Each count is (instructions for 200k iterations - instructions for 100k) / 100k, so the
# run's fixed costs cancel. Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
./bazelw build --config=opt //bench:op_driver >/dev/null 2>&1
driver="$(./bazelw info --config=opt bazel-bin 2>/dev/null)/bench/op_driver"
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$driver" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for scenario in "${@:-cp cp2 buf lock rdv spawn event}"; do
  for s in $scenario; do
    a=$(count "$s" 100000)
    b=$(count "$s" 200000)
    echo "$s $(((b - a) / 100000))"
  done
done
