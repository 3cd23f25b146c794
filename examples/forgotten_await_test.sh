#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# //examples:forgotten_await_test: proves that a forgotten co_await is a compile error. Compiles
# examples/forgotten_await.cc (syntax only) with the toolchain's compiler three times:
#   -DFORGET_AWAIT_ON_SLEEP, -DFORGET_AWAIT_ON_TASK: each must fail, and every error must be the
#       [[nodiscard]] diagnostic ("ignoring return value" / "ignoring returned value" ... nodiscard)
#       on the line of the file marked "FORGOTTEN: sleep" / "FORGOTTEN: task";
#   no define: must compile without any diagnostic (the positive control: the fixed program).
# Arguments: the compiler (Bazel's $(CC); the CXX environment variable overrides it), then the
# source file (a runfiles path). The runtime headers are in the runfiles, so -I. finds them.

set -uo pipefail

compiler="${CXX:-$1}"
source_file="$2"
readonly FLAGS=(-x c++ -std=c++20 -Wall -Wextra -Werror -fsyntax-only -I.)

if [[ ! -f "${source_file}" ]]; then
  echo "forgotten_await_test: ${source_file} not found (in $(pwd))" >&2
  exit 1
fi
echo "compiler: ${compiler} ($("${compiler}" --version | head -n 1))"

status=0
fail() {
  echo "FAIL: $*"
  status=1
}

# expect_nodiscard_error MACRO MARKER: compiling with -DMACRO fails, and each error is the
# nodiscard diagnostic on the line marked "FORGOTTEN: MARKER".
expect_nodiscard_error() {
  local macro="$1" marker="$2" line output errors nodiscard_errors
  line="$(grep -n "FORGOTTEN: ${marker}\$" "${source_file}" | cut -d: -f1)"
  if [[ -z "${line}" ]]; then
    fail "no line marked 'FORGOTTEN: ${marker}' in ${source_file}"
    return
  fi
  if output="$("${compiler}" "${FLAGS[@]}" "-D${macro}" "${source_file}" 2>&1)"; then
    fail "-D${macro}: the forgotten co_await compiled; it must be an error"
    return
  fi
  errors="$(grep -E '(^|: )(fatal )?error: ' <<<"${output}")"
  nodiscard_errors="$(grep -E "forgotten_await\.cc:${line}:[0-9]+: error: ignoring return(ed)? value.*nodiscard" \
    <<<"${output}")"
  if [[ -z "${nodiscard_errors}" ]]; then
    fail "-D${macro}: no nodiscard error on line ${line}; the compiler said:"
    echo "${output}"
  elif [[ "${errors}" != "${nodiscard_errors}" ]]; then
    fail "-D${macro}: errors besides the nodiscard one on line ${line}:"
    echo "${output}"
  else
    echo "ok: -D${macro} fails with: ${nodiscard_errors}"
  fi
}

expect_nodiscard_error FORGET_AWAIT_ON_SLEEP sleep
expect_nodiscard_error FORGET_AWAIT_ON_TASK task

if output="$("${compiler}" "${FLAGS[@]}" "${source_file}" 2>&1)" && [[ -z "${output}" ]]; then
  echo "ok: the fixed program compiles cleanly"
else
  fail "the fixed program (no define) must compile without diagnostics; the compiler said:"
  echo "${output}"
fi

exit "${status}"
