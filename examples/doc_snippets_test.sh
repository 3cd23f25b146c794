#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# //examples:doc_snippets_test: every C++ code block of docs/tutorial.md is a copy of real code.
# A block is written in the doc as
#     <!-- snippet: NAME -->
#     ```cpp
#     ...
#     ```
# and must equal, line for line, the lines between "// [START NAME]" and "// [END NAME]" in
# exactly one of the example sources (with their common indentation removed). A ```cpp block
# without a snippet marker fails too. The sources are compiled and run by the example tests, so
# the doc's code cannot rot.
#
# Arguments: the doc (a workspace-relative path), then the sources (runfiles paths). The doc is
# read from the runfiles if it is there; otherwise from the source tree, found through the
# sources' symlinks (the root package does not export docs/tutorial.md, so it cannot be a declared
# input yet; hence the test is tagged "external", never cached).

set -uo pipefail

doc_path="$1"
shift
doc="${doc_path}"
if [[ ! -f "${doc}" ]]; then
  workspace="$(dirname "$(dirname "$(readlink -f "$1")")")"
  doc="${workspace}/${doc_path}"
fi
if [[ ! -f "${doc}" ]]; then
  echo "doc_snippets_test: cannot find ${doc_path} (not in the runfiles, not at ${doc})" >&2
  exit 1
fi

# Prints the lines of "$1" between its START and END markers in file "$2", dedented.
extract_region() {
  awk -v start="// [START $1]" -v end="// [END $1]" '
    index($0, end) { inside = 0 }
    inside { print }
    index($0, start) { inside = 1 }
  ' "$2" | awk '
    { lines[NR] = $0
      if ($0 ~ /[^ ]/) { match($0, /^ */); if (min == "" || RLENGTH < min) min = RLENGTH } }
    END { for (i = 1; i <= NR; i++) print substr(lines[i], min + 1) }
  '
}

status=0
checked=0
name=""
line_number=0
in_block=0
block=""
while IFS= read -r line || [[ -n "${line}" ]]; do
  line_number=$((line_number + 1))
  if ((in_block)); then
    if [[ "${line}" == '```' ]]; then
      in_block=0
      files=()
      for src in "$@"; do
        grep -qF "// [START ${name}]" "${src}" && files+=("${src}")
      done
      if [[ "${name}" == "(unnamed)" ]]; then
        :  # already reported
      elif ((${#files[@]} != 1)); then
        echo "FAIL: snippet '${name}' (${doc_path}:${block_start}) is marked in ${#files[@]} sources (${files[*]:-none}); it must be in exactly one"
        status=1
      elif ! diff_output="$(diff <(extract_region "${name}" "${files[0]}") <(printf '%s' "${block}"))"; then
        echo "FAIL: snippet '${name}' (${doc_path}:${block_start}) differs from ${files[0]} (< source, > doc):"
        echo "${diff_output}"
        status=1
      else
        checked=$((checked + 1))
      fi
      name=""
    else
      block+="${line}"$'\n'
    fi
  elif [[ "${line}" =~ ^\<!--\ snippet:\ ([A-Za-z0-9_]+)\ --\>$ ]]; then
    name="${BASH_REMATCH[1]}"
  elif [[ "${line}" == '```cpp' || "${line}" == '```c++' ]]; then
    if [[ -z "${name}" ]]; then
      echo "FAIL: ${doc_path}:${line_number}: a C++ block without a '<!-- snippet: NAME -->' line above it"
      status=1
      name="(unnamed)"
    fi
    in_block=1
    block=""
    block_start="${line_number}"
  elif [[ -n "${name}" && -n "${line}" ]]; then
    echo "FAIL: ${doc_path}:${line_number}: '<!-- snippet: ${name} -->' is not followed by a \`\`\`cpp block"
    status=1
    name=""
  fi
done <"${doc}"

if ((status == 0)); then
  echo "doc_snippets_test: ${checked} snippets of ${doc} match the sources"
  if ((checked == 0)); then
    echo "FAIL: no snippets found"
    status=1
  fi
fi
exit "${status}"
