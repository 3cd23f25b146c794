#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# //tools:seams_test: simulation is deterministic only if nondeterminism enters through the
# seams (DESIGN.md, "The seams"). This test fails if a source file outside a seam's
# implementation reads the OS clock, calls epoll, opens a real socket, sleeps for real, or uses an
# unseeded random source. Tests (*_test.cc) and benchmarks are exempt: they may drive real
# threads and fds on purpose. Arguments: the sources (runfiles paths).
set -uo pipefail

# (testing/sweep.cc reads the real clock only to print seeds per second.)
# "pattern @@ files allowed to use it" (both extended regexes; files match the runfiles path)
# (The socket rule does not count `x.socket()` / `x->socket()`: SocketStream's and
# SocketListener's accessor, Trio's `.socket`. The socket headers declare the seam's socket()
# and getaddrinfo(), so runtime/net/socket*.h are allowed like the .cc files.)
RULES=(
  'clock_gettime|gettimeofday|steady_clock|system_clock|high_resolution_clock|\btime\(NULL\) @@ (runtime/clock|simclock/mock_clock|testing/sweep)\.cc$'
  'epoll_(create|ctl|wait|pwait) @@ runtime/epoll_backend\.cc$'
  '(^|[^.>_[:alnum:]])socket\(|::connect\(|::bind\(|::listen\(|::accept4?\(|getaddrinfo @@ runtime/(net/)?(socket|resolver)[a-z_]*\.(h|cc)$'
  'nanosleep|usleep|\bsleep_for\(|this_thread::sleep @@ runtime/epoll_backend\.cc$'
  'random_device|\brand\(|\bsrand\(|\brandom\(\) @@ runtime/choice\.cc$'
)

failures=0
for src in "$@"; do
  case "$src" in
    *_test.cc | bench/* | */bench/*) continue ;;
  esac
  for rule in "${RULES[@]}"; do
    pattern="${rule%% @@ *}"
    allow="${rule##* @@ }"
    if [[ "$src" =~ $allow ]]; then continue; fi
    if hits=$(grep -nE "$pattern" "$src" | grep -vE '^\s*[0-9]+:\s*//'); then
      echo "seams_test: $src uses a nondeterministic source outside its seam:"
      echo "$hits" | sed 's/^/    /'
      failures=$((failures + 1))
    fi
  done
done
if [ "$failures" -ne 0 ]; then
  echo "Route time through trio::Clock, I/O through trio::IoBackend and randomness through"
  echo "trio::ChoiceSource (see DESIGN.md), or extend the allow-list in tools/seams_test.sh."
  exit 1
fi
echo "seams_test: $# files checked, no nondeterminism outside the seams"
