#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# //testing:repro_test: a failing TRIO_TEST (repro_subject, run as a child process) prints its
# seed and a command that reproduces it, and running that command gives the same failure with
# the same schedule. Also: --trio_seed beats TRIO_SEED, which beats the per-test default; under
# Bazel (TEST_TARGET set) the command is a `bazel test` line; bad trio flags stop the binary.
#
# Argument: the path of repro_subject.

set -uo pipefail

subject="$1"
status=0
fail() {
  echo "FAIL: $*"
  status=1
}

# Runs the subject with the environment and arguments given (TEST_TARGET and TRIO_SEED unset
# unless given), prints its output; it must exit with 1 (one failed test).
run_subject() {
  local output rc
  # XML_OUTPUT_FILE unset: the subject's deliberate failure must not land in this test's XML.
  output="$(env -u TEST_TARGET -u TRIO_SEED -u XML_OUTPUT_FILE -u GTEST_OUTPUT "$@" 2>&1)"
  rc=$?
  if ((rc != 1)); then
    echo "FAIL: '$*' exited with ${rc}, expected 1 (a failed test); output:" >&2
    echo "${output}" >&2
    status=1
  fi
  printf '%s\n' "${output}"
}

schedule_of() { grep -o 'schedule: [0-9]*' <<<"$1"; }
seed_of() { grep -o 'trio seed [0-9]*' <<<"$1" | head -n 1 | cut -d' ' -f3; }
command_of() { grep -o 'reproduce with: .*' <<<"$1" | head -n 1 | cut -d' ' -f3-; }

filter="Repro.FailsWithItsSchedule"

# 1. The default seed, outside Bazel: the repro line runs the binary itself.
first="$(run_subject "${subject}")"
seed="$(seed_of "${first}")"
command="$(command_of "${first}")"
[[ -n "${seed}" ]] || fail "no 'trio seed N' in the failure: ${first}"
[[ "${command}" == "TRIO_SEED=${seed} ${subject} --gtest_filter=${filter}" ]] ||
  fail "repro command is '${command}'"
[[ -n "$(schedule_of "${first}")" ]] || fail "no schedule in the failure: ${first}"

# 2. Running the printed command reproduces the same run.
again="$(run_subject bash -c "${command}")"
[[ "$(seed_of "${again}")" == "${seed}" ]] || fail "the repro run used another seed: ${again}"
[[ "$(schedule_of "${again}")" == "$(schedule_of "${first}")" ]] ||
  fail "the repro run had another schedule: '$(schedule_of "${again}")' vs '$(schedule_of "${first}")'"

# 3. Seeds: TRIO_SEED, then --trio_seed over it; their repro lines name the seed that ran.
with_env="$(run_subject TRIO_SEED=88 "${subject}")"
[[ "$(seed_of "${with_env}")" == 88 ]] || fail "TRIO_SEED=88 ignored: ${with_env}"
with_both="$(run_subject TRIO_SEED=88 "${subject}" --trio_seed=77)"
[[ "$(seed_of "${with_both}")" == 77 ]] || fail "--trio_seed=77 did not win over TRIO_SEED: ${with_both}"
[[ "$(command_of "${with_both}")" == "TRIO_SEED=77 ${subject} --gtest_filter=${filter}" ]] ||
  fail "repro command for --trio_seed=77 is '$(command_of "${with_both}")'"

# 4. The seed decides the schedule: some of 20 seeds differ from seed 1.
schedules="$(for s in $(seq 1 20); do schedule_of "$(run_subject "${subject}" --trio_seed="${s}")"; done | sort -u | wc -l)"
((schedules >= 2)) || fail "20 seeds gave ${schedules} distinct schedule(s)"

# 5. Under Bazel, a bazel test line for the target (with the build's --config, if any).
under_bazel="$(run_subject TEST_TARGET=//some/pkg:some_test "${subject}" --trio_seed=5)"
expected_re="^bazel test( --config=[a-z]+)? //some/pkg:some_test --test_filter=${filter} --test_env=TRIO_SEED=5$"
[[ "$(command_of "${under_bazel}")" =~ ${expected_re} ]] ||
  fail "bazel repro command is '$(command_of "${under_bazel}")'"

# 6. Bad trio flags stop the binary before any test runs, with exit code 2.
for bad in --trio_seed=abc --trio_seed= --trio_sed=1; do
  output="$(env -u TEST_TARGET -u TRIO_SEED -u XML_OUTPUT_FILE -u GTEST_OUTPUT "${subject}" "${bad}" 2>&1)"
  rc=$?
  ((rc == 2)) || fail "${bad}: exit code ${rc}, expected 2"
  grep -qF -- "${bad}" <<<"${output}" || fail "${bad}: the error does not name the flag: ${output}"
  grep -q 'RUN' <<<"${output}" && fail "${bad}: tests ran anyway"
done

# 7. A malformed TRIO_SEED fails the test (it does not silently use another seed).
output="$(run_subject TRIO_SEED=12x "${subject}")"
grep -qF "TRIO_SEED='12x' is not a seed" <<<"${output}" || fail "TRIO_SEED=12x accepted: ${output}"

((status == 0)) && echo "repro_test: all checks passed (seed ${seed}, schedule $(schedule_of "${first}"))"
exit "${status}"
