#!/usr/bin/env bash
# The whole test suite: lit (dialect, passes, pipelines, attn-run end to end)
# and GoogleTest (npy, float16, reference, JIT, the numerical sweep).
# Fails if any test fails. Run scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
ninja -C build
status=0
/usr/lib/llvm-22/bin/lit -sv build/test || status=1
ctest --test-dir build -j "$(nproc)" --output-on-failure || status=1
if ((status)); then
  echo "test: FAILED"
else
  echo "test: all tests passed"
fi
exit $status
