#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# //tools:format_test: fails if a C++ source is not formatted as .clang-format says, or if a
# .h/.cc file of the workspace is not checked because its package is missing from FORMAT_SRCS in
# tools/BUILD.bazel. Arguments: the .clang-format file, then the sources (runfiles paths).

set -uo pipefail

readonly FIX_COMMAND="tools/format.sh"

style_file="$1"
shift
if ! command -v clang-format >/dev/null; then
  echo "format_test: clang-format is not installed (./bazelw installs it)" >&2
  exit 1
fi

# 1. Formatting of the declared sources.
unformatted=()
for src in "$@"; do
  if ! clang-format --style="file:${style_file}" --dry-run --Werror "${src}" >/dev/null 2>&1; then
    unformatted+=("${src}")
  fi
done

# 2. Coverage: the runfiles are symlinks into the source tree, so the workspace can be found and
# its .h/.cc files compared with the declared ones. Skipped if the runfiles are copies.
uncovered=()
coverage="not checked: runfiles are not symlinks into the workspace"
workspace="$(dirname "$(readlink -f "${style_file}")")"
if [[ -f "${workspace}/WORKSPACE" && "${workspace}" != "$(pwd -P)" ]]; then
  declare -A declared=()
  for src in "$@"; do
    declared["${src}"]=1
  done
  while IFS= read -r -d '' file; do
    file="${file#"${workspace}"/}"
    [[ -n "${declared[${file}]:-}" ]] || uncovered+=("${file}")
  done < <(find "${workspace}" \( -name 'bazel-*' -o -name '.*' \) -prune -o \
    -type f \( -name '*.h' -o -name '*.cc' \) -print0 | sort -z)
  coverage="every .h/.cc file of ${workspace} is among them"
fi

status=0
if ((${#unformatted[@]} > 0)); then
  echo "These files are not formatted as .clang-format says:"
  printf '  %s\n' "${unformatted[@]}"
  echo "The first difference in each:"
  for src in "${unformatted[@]}"; do
    clang-format --style="file:${style_file}" --dry-run --Werror "${src}" 2>&1 | head -n 6
  done
  echo "Fix them with: ${FIX_COMMAND}   (or: clang-format -i FILE...)"
  status=1
fi
if ((${#uncovered[@]} > 0)); then
  echo "These sources are not checked (their package's 'format_srcs' filegroup is missing or"
  echo "not listed in FORMAT_SRCS in tools/BUILD.bazel):"
  printf '  %s\n' "${uncovered[@]}"
  echo "Fix: add to the package's BUILD.bazel"
  echo '    filegroup('
  echo '        name = "format_srcs",'
  echo '        srcs = glob(["**/*.h", "**/*.cc"]),'
  echo '        visibility = ["//tools:__pkg__"],'
  echo '    )'
  echo "and list it in FORMAT_SRCS in tools/BUILD.bazel."
  status=1
fi
if ((status == 0)); then
  echo "format_test: $# files are formatted; ${coverage}"
fi
exit "${status}"
