#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# Runs every benchmark side by side with its peers in one go:
#   bench/run_all.sh            trio-cpp + Asio (Google Benchmark, -O2) and Python Trio
# Results go to stdout; copy the figures into bench/RESULTS.md with the date and the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== trio-cpp and Asio 1.22 (bazel --config=opt)"
./bazelw run --config=opt //bench:core_bench -- --benchmark_min_time=0.5 "$@"
if [ -n "$(./bazelw query //bench:sync_bench 2>/dev/null)" ]; then
  echo "== sync primitives and channels"
  ./bazelw run --config=opt //bench:sync_bench -- --benchmark_min_time=0.5 "$@"
fi
echo "== harness: simulated events/s and demo seeds/s"
./bazelw run --config=opt //bench:harness_bench -- --benchmark_min_time=1 "$@"
echo "== Python Trio $(/usr/bin/python3 -c 'import trio; print(trio.__version__)')"
/usr/bin/python3 bench/trio_peer.py
