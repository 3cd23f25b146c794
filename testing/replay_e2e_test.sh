#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# //testing:replay_e2e_test: every failure of the harness prints one shell command that replays
# it, and running it replays the same run. For each test of replay_subject (a sweep with timer
# perturbation, a PCT sweep, a sweep with cancellation exploration, check_property,
# explore_cancellation; a gtest_main binary): under Bazel (TEST_TARGET set) the "reproduce with:"
# line is `bazel test [--config=X] //target --test_filter=Suite.Name --test_env=TRIO_REPLAY=T`;
# running the binary with that environment fails again with the same trace (hash, or trace text)
# and the same command; outside Bazel the command runs the binary itself, and running it does
# the same. rapidcheck's own seed and RC_PARAMS lines do not appear.
#
# Argument: the path of replay_subject.

set -uo pipefail

subject="$1"
target="//testing:replay_subject"
status=0
fail() {
  echo "FAIL: $*"
  status=1
}

# Runs the subject with the environment and arguments given; prints its output; exit code 1.
run_subject() {
  local output rc
  output="$(env -u TEST_TARGET -u TRIO_REPLAY -u TRIO_SWEEP_SEED -u XML_OUTPUT_FILE -u GTEST_OUTPUT \
    -u TEST_UNDECLARED_OUTPUTS_DIR -u TEST_TOTAL_SHARDS -u TEST_SHARD_INDEX -u GTEST_TOTAL_SHARDS \
    -u GTEST_SHARD_INDEX "$@" 2>&1)"
  rc=$?
  ((rc == 1)) || {
    echo "FAIL: '$*' exited with ${rc}, expected 1 (a failed test); output:" >&2
    echo "${output}" >&2
    status=1
  }
  printf '%s\n' "${output}"
}

command_of() { grep -o 'reproduce with: .*' <<<"$1" | head -n 1 | cut -d' ' -f3- | sed 's|  //.*||'; }
# The run's identity: its trace hash, or (explore_cancellation) the end of its trace.
identity_of() {
  local hash
  hash="$(grep -o 'trace hash 0x[0-9a-f]*' <<<"$1" | head -n 1)"
  if [[ -n "${hash}" ]]; then
    echo "${hash}"
  else
    sed -n '/^trace of that run:/,/^\[  FAILED  \]/p' <<<"$1" | grep -v '^\[' | md5sum
  fi
}

for test in SweepWithTimerPerturbation PctSweep SweepWithCancellation Property \
  CancellationExploration; do
  filter="Replay.${test}"
  first="$(run_subject TEST_TARGET="${target}" "${subject}" --gtest_filter="${filter}")"
  command="$(command_of "${first}")"
  re="^bazel test( --config=[a-z]+)? ${target} --test_filter=${filter} --test_env=TRIO_REPLAY=([A-Za-z0-9=:,.-]+)$"
  if [[ ! "${command}" =~ ${re} ]]; then
    fail "${test}: the repro line is not a bazel test command with a token: '${command}'"
    continue
  fi
  token="${BASH_REMATCH[2]}"
  identity="$(identity_of "${first}")"
  [[ -n "${identity}" ]] || fail "${test}: no trace hash nor trace in the report: ${first}"

  # The command's environment on the same binary: the same run, the same command.
  again="$(run_subject TEST_TARGET="${target}" TRIO_REPLAY="${token}" "${subject}" --gtest_filter="${filter}")"
  [[ "$(identity_of "${again}")" == "${identity}" ]] ||
    fail "${test}: TRIO_REPLAY=${token} replayed another run:${again}"
  [[ "$(command_of "${again}")" == "${command}" ]] ||
    fail "${test}: the replay's repro line differs: '$(command_of "${again}")'"

  # Outside Bazel the command runs the binary itself; running it replays the same run.
  local_first="$(run_subject "${subject}" --gtest_filter="${filter}")"
  local_command="$(command_of "${local_first}")"
  [[ "${local_command}" == "TRIO_REPLAY=${token} "*" --gtest_filter=${filter}" ]] ||
    fail "${test}: the repro line outside Bazel is '${local_command}'"
  local_again="$(run_subject bash -c "${local_command}")"
  [[ "$(identity_of "${local_again}")" == "${identity}" ]] ||
    fail "${test}: running '${local_command}' replayed another run: ${local_again}"

  if grep -q 'Using configuration\|RC_PARAMS' <<<"${first}"; then
    fail "${test}: rapidcheck's own seed or repro line is printed: ${first}"
  fi
  echo "${test}: ${command}"
done

# A malformed token fails the test instead of running something else.
bad="$(run_subject TRIO_REPLAY=seed=1:bogus=2 "${subject}" --gtest_filter=Replay.PctSweep)"
grep -q "is not a replay token: unknown key 'bogus'" <<<"${bad}" || fail "malformed token: ${bad}"

((status == 0)) && echo "replay_e2e_test: all checks passed"
exit "${status}"
