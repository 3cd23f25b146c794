#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# //testing:sweep_shard_test: a sharded sweep runs every seed of its range exactly once across
# the shards. Runs sweep_shard_subject once per shard index with the variables Bazel sets for
# `shard_count = 4` (TEST_TOTAL_SHARDS, TEST_SHARD_INDEX, GTEST_TOTAL_SHARDS, GTEST_SHARD_INDEX,
# TEST_SHARD_STATUS_FILE) and checks, for each of its two sweeps, that the seeds the shards ran
# form an exact partition of the range, that each shard's summary line says how many seeds it
# ran of how many, and that the status file was touched. Then checks that a test which is not a
# sweep fails in a sharded run, saying what to do.
#
# Argument: the path of sweep_shard_subject.

set -uo pipefail

subject="$1"
shards=4
status=0
fail() {
  echo "FAIL: $*"
  status=1
}
tmp="${TEST_TMPDIR:-$(mktemp -d)}"

# Runs shard $1 of ${shards} with gtest arguments $2...; stdout+stderr in ${tmp}/shard$1.out.
run_shard() {
  local index="$1"
  shift
  rm -f "${tmp}/status${index}"
  env -u TEST_UNDECLARED_OUTPUTS_DIR -u XML_OUTPUT_FILE -u GTEST_OUTPUT -u TRIO_SWEEP_SEED \
    -u TRIO_REPLAY -u TEST_TARGET \
    TEST_TOTAL_SHARDS="${shards}" TEST_SHARD_INDEX="${index}" GTEST_TOTAL_SHARDS="${shards}" \
    GTEST_SHARD_INDEX="${index}" TEST_SHARD_STATUS_FILE="${tmp}/status${index}" \
    "${subject}" "$@" >"${tmp}/shard${index}.out" 2>&1
}

for ((i = 0; i < shards; ++i)); do
  run_shard "${i}" --gtest_filter='ShardSubject.*' || fail "shard ${i} exited with $?: $(cat "${tmp}/shard${i}.out")"
  [[ -e "${tmp}/status${i}" ]] || fail "shard ${i} did not touch TEST_SHARD_STATUS_FILE"
done

# check_partition NAME FIRST COUNT: every seed of FIRST..FIRST+COUNT-1 ran in exactly one shard.
check_partition() {
  local name="$1" first="$2" count="$3" i ran expected
  ran="$(cat "${tmp}"/shard*.out | sed -n "s/^${name} ran seed \([0-9]*\)$/\1/p" | sort -n)"
  expected="$(seq "${first}" $((first + count - 1)))"
  if [[ "${ran}" != "${expected}" ]]; then
    fail "sweep ${name}: the shards ran $(wc -w <<<"${ran}") seed(s) ($(uniq -d <<<"${ran}" | wc -w) twice), expected each of ${first}..$((first + count - 1)) once"
  fi
  for ((i = 0; i < shards; ++i)); do
    local mine line
    mine="$(grep -c "^${name} ran seed " "${tmp}/shard${i}.out")"
    line="$(grep "^trio sweep ${name}: " "${tmp}/shard${i}.out")"
    [[ "${line}" == *"(shard $((i + 1))/${shards}), ${mine} of ${count} seeds run in "* ]] ||
      fail "shard ${i}, sweep ${name}: summary line '${line}' does not say ${mine} of ${count}"
    echo "${line}"
  done
}
check_partition first 5 103
check_partition second 0 10

# A test that is not a sweep fails in a sharded run (it would run once per shard).
run_shard 0 --gtest_filter='Plain.*'
rc=$?
((rc == 1)) || fail "Plain.NotASweep in a sharded run: exit code ${rc}, expected 1"
grep -q "runs in a sharded test target (TEST_TOTAL_SHARDS=4) but called no trio::testing::sweep()" \
  "${tmp}/shard0.out" || fail "no clear failure for a non-sweep test: $(cat "${tmp}/shard0.out")"
grep -q "Move it to a target without shard_count" "${tmp}/shard0.out" ||
  fail "the failure does not say what to do: $(cat "${tmp}/shard0.out")"

# Not sharded: the same test passes.
env -u TEST_TOTAL_SHARDS -u TEST_SHARD_INDEX -u GTEST_TOTAL_SHARDS -u GTEST_SHARD_INDEX \
  -u XML_OUTPUT_FILE -u GTEST_OUTPUT "${subject}" --gtest_filter='Plain.*' >/dev/null 2>&1 ||
  fail "Plain.NotASweep fails without sharding"

((status == 0)) && echo "sweep_shard_test: all checks passed"
exit "${status}"
