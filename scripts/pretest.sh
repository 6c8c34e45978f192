#!/usr/bin/env bash
# npm test's pretest: Biome and the three type checks (Node + tests, the browser-safe core, the web
# app), run at the same time rather than one after another. They check different things with different
# libraries (so none can be dropped) but read the same sources, and each is one mostly single-threaded
# process: side by side on CI's 2 cores they take about as long as the longest alone. Each check's
# output is printed after it ends, in this order; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
checks=("biome ci ." "tsc -p tsconfig.test.json" "tsc -p tsconfig.core.json" "tsc -p web/tsconfig.json")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pids=()
for i in "${!checks[@]}"; do
  # shellcheck disable=SC2086 # each check is a command line
  npx --no-install ${checks[$i]} >"$out/$i" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!checks[@]}"; do
  if wait "${pids[$i]}"; then
    echo "pretest: ${checks[$i]}: ok"
  else
    echo "pretest: ${checks[$i]}: FAILED"
    failed=1
  fi
  cat "$out/$i"
done
exit $failed
