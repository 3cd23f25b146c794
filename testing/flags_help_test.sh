#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# //testing:flags_help_test: `--help` of a binary lists its Abseil flags, with their usage text,
# and runs nothing else.
#
# Arguments: BINARY FLAG... — the binary, then the flags its --help must list.

set -uo pipefail

binary="$1"
shift
output="$(env -u TEST_TARGET -u TRIO_SEED -u XML_OUTPUT_FILE -u GTEST_OUTPUT "${binary}" --help 2>&1)"
status=0
for flag in "$@"; do
  grep -qE -- "^ +--${flag} \(.+" <<<"${output}" ||
    { echo "FAIL: ${binary} --help does not list --${flag}:"; status=1; }
done
grep -q '^\[ RUN' <<<"${output}" && { echo "FAIL: ${binary} --help ran tests"; status=1; }
((status == 0)) && echo "flags_help_test: ${binary} --help lists $*" || echo "${output}"
exit "${status}"
