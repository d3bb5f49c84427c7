#!/bin/bash
# The CUDA suites on the device machine (no Node there). Pack here, into .carry/ (in .git/info/exclude):
#   xz -T2 -c /usr/bin/node > .carry/node.xz
#   tar cf - --exclude=node_modules/typescript --exclude=node_modules/@types --exclude='node_modules/playwright*' \
#     --exclude=node_modules/pngjs --exclude='node_modules/@vitest/browser*' --exclude=node_modules/cmake-js \
#     node_modules | xz -T2 > .carry/nm.tar.xz
#   xz -T2 -c build/Release/longseq.node > .carry/addon.xz; cp -r ../shared/golden .carry/golden
# then run there, carrying those four: bash bench/deviceTests.sh [vitest arguments, e.g. test/cuda/fftConv.cuda.test.ts]
# Output: $OUT/tests.txt, and the summary on stdout. LIMIT: seconds (default 300).
set -u
xz -dc .carry/node.xz > /tmp/node && chmod +x /tmp/node
tar xJf .carry/nm.tar.xz && mkdir -p build/Release && xz -dc .carry/addon.xz > build/Release/longseq.node
LONGSEQ_GOLDEN=$PWD/.carry/golden timeout "${LIMIT:-300}" /tmp/node node_modules/vitest/vitest.mjs run \
  --config vitest.cuda.config.ts "$@" > "$OUT/tests.txt" 2>&1
echo "== CUDA suites rc $?"
sed 's/\x1b\[[0-9;]*m//g' "$OUT/tests.txt" | grep -E "✓|✗|×|FAIL|Test Files|Tests " | tail -40
