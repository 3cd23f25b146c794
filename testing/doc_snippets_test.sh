#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# //testing:doc_snippets_test: runs the examples' snippet checker (examples/doc_snippets_test.sh)
# on docs/testing.md and this package's sources. The checker is not exported by //examples, so
# it is found in the source tree through the sources' symlinks, as the checker itself finds the
# doc. (If //examples exports it one day, the sh_test can use it directly.)
#
# Arguments: the doc (workspace-relative), then the sources (runfiles paths).

set -euo pipefail

workspace="$(dirname "$(dirname "$(readlink -f "$2")")")"
checker="${workspace}/examples/doc_snippets_test.sh"
if [[ ! -f "${checker}" ]]; then
  echo "doc_snippets_test: cannot find ${checker}" >&2
  exit 1
fi
exec bash "${checker}" "$@"
