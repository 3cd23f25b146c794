#!/bin/bash
echo "args: $@"; echo "CXX=${CXX:-unset} CC=${CC:-unset}"; pwd; find . -maxdepth 3 | head -40
exit 1
