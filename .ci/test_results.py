# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Counts the test cases of one `bazel test` invocation, for .ci/run.

Usage: test_results.py CONFIG BEP_JSON BAZEL_EXIT_CODE TOTALS_FILE

Reads the Build Event Protocol file that `bazel test --build_event_json_file=BEP_JSON` wrote, so
only the test targets of this invocation count (bazel-testlogs/ may hold stale test.xml files of
targets that no longer exist or failed to build this time). For each test target:
  - each test case in its test.xml (JUnit XML, from GoogleTest or Bazel's generated one) counts
    as passed, or failed when it has a <failure> or <error> child; skipped / not-run cases are
    reported but count as neither;
  - a test Bazel marked failed whose test.xml shows no failed case (e.g. a sanitizer report at
    exit, after GoogleTest wrote its XML) counts one extra failure;
  - a test target with no result (failed to build, test.xml missing) counts as one failure.
If Bazel itself failed and nothing above explains it, that is one more failure.

Prints the failing tests' logs, then one line `CONFIG: N passed, N failed`, and adds the counts
to TOTALS_FILE (a line `passed failed skipped`, created if missing).
"""

import json
import os
import sys
import urllib.parse
import xml.etree.ElementTree as ET

# A failing log longer than this is cut to its last lines: the end holds the failure.
LOG_LINES_MAX = 400
# Compiler output of a target that failed to build is cut to this many characters.
BUILD_ERROR_CHARS_MAX = 6000


def uri_to_path(uri):
    return urllib.parse.unquote(urllib.parse.urlparse(uri).path)


def read_events(bep_path):
    events = []
    if not os.path.exists(bep_path):
        return events
    with open(bep_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # A truncated last line if Bazel died; the rest still counts.
    return events


def count_xml(xml_path):
    """Returns (passed, failed, skipped, failed_names) for one test.xml."""
    root = ET.parse(xml_path).getroot()
    passed = failed = skipped = 0
    failed_names = []
    for case in root.iter("testcase"):
        children = {child.tag for child in case}
        name = "%s.%s" % (case.get("classname", ""), case.get("name", ""))
        if "failure" in children or "error" in children:
            failed += 1
            failed_names.append(name.strip("."))
        elif ("skipped" in children or case.get("status") == "notrun"
              or case.get("result") == "skipped"):
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped, failed_names


def print_log(label, log_path):
    print("---- log of %s (%s)" % (label, log_path))
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError as e:
        print("(cannot read the log: %s)" % e)
        return
    if len(lines) > LOG_LINES_MAX:
        print("(... %d earlier lines cut ...)" % (len(lines) - LOG_LINES_MAX))
        lines = lines[-LOG_LINES_MAX:]
    sys.stdout.write("".join(lines))
    print("---- end of log of %s" % label)


def main():
    config, bep_path, bazel_rc, totals_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    events = read_events(bep_path)

    test_targets = set()
    build_errors = {}  # label -> message, for targets that failed to build
    results = {}  # (label, run, shard) -> (attempt, status, xml_path, log_path)
    for event in events:
        kind, id_value = next(iter(event["id"].items()))
        if kind == "targetConfigured" and "testSize" in event.get("configured", {}):
            test_targets.add(id_value["label"])
        elif kind == "targetCompleted":
            completed = event.get("completed")
            if completed is not None and not completed.get("success", False):
                build_errors[id_value["label"]] = completed.get("failureDetail", {}).get(
                    "message", "failed to build")
            elif "aborted" in event:
                aborted = event["aborted"]
                build_errors[id_value["label"]] = "%s %s" % (
                    aborted.get("reason", "aborted"), aborted.get("description", ""))
        elif kind == "testResult":
            outputs = {o["name"]: uri_to_path(o["uri"])
                       for o in event.get("testResult", {}).get("testActionOutput", [])
                       if "uri" in o}
            key = (id_value["label"], id_value.get("run", 1), id_value.get("shard", 1))
            attempt = id_value.get("attempt", 1)
            if key not in results or results[key][0] < attempt:
                results[key] = (attempt, event.get("testResult", {}).get("status", "NO_STATUS"),
                                outputs.get("test.xml"), outputs.get("test.log"))

    passed = failed = skipped = 0
    failures = []  # (label, why, log_path or None)
    with_results = set()
    for (label, _run, _shard), (_attempt, status, xml_path, log_path) in sorted(results.items()):
        with_results.add(label)
        bazel_ok = status in ("PASSED", "FLAKY")
        if xml_path is None or not os.path.exists(xml_path):
            failed += 1
            failures.append((label, "no test.xml (status %s)" % status, log_path))
            continue
        try:
            p, f, s, names = count_xml(xml_path)
        except ET.ParseError as e:
            failed += 1
            failures.append((label, "unreadable test.xml: %s" % e, log_path))
            continue
        passed, failed, skipped = passed + p, failed + f, skipped + s
        if f:
            failures.append((label, "failed: " + ", ".join(names), log_path))
        elif not bazel_ok:
            failed += 1
            failures.append((label, "%s although every test case passed (exit status, "
                             "sanitizer report or timeout)" % status, log_path))

    for label in sorted(test_targets - with_results):
        failed += 1
        why = build_errors.get(label, "no test result (did not build or did not run)")
        failures.append((label, "no result: " + why[:BUILD_ERROR_CHARS_MAX], None))

    if bazel_rc != 0 and not failures:
        failed += 1
        failures.append(("bazel", "exited with status %d and reported no failing test "
                         "(see its output above)" % bazel_rc, None))

    if skipped:
        print("%s: %d test cases skipped" % (config, skipped))
    for label, why, log_path in failures:
        print("FAILED [%s] %s: %s" % (config, label, why))
        if log_path:
            print_log(label, log_path)
    print("%s: %d passed, %d failed (in %d test targets)" % (config, passed, failed,
                                                                len(test_targets)))

    totals = [0, 0, 0]
    if os.path.exists(totals_path):
        with open(totals_path) as f:
            totals = [int(x) for x in f.read().split()]
    totals = [totals[0] + passed, totals[1] + failed, totals[2] + skipped]
    with open(totals_path, "w") as f:
        f.write("%d %d %d\n" % tuple(totals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
