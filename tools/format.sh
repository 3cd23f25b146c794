#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# tools/format.sh [FILE...]: formats C++ sources in place with clang-format and the repository's
# .clang-format (the style //tools:format_test checks). Without arguments: every .h/.cc file of
# the repository, outside bazel-* and hidden directories.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v clang-format >/dev/null; then
  echo "format.sh: clang-format is not installed; run ./bazelw once (as root) to install it" >&2
  exit 1
fi
if (($# > 0)); then
  exec clang-format --style=file -i "$@"
fi
find . \( -name 'bazel-*' -o -name '.?*' \) -prune -o \
  -type f \( -name '*.h' -o -name '*.cc' \) -print0 | xargs -0 -r clang-format --style=file -i
