#!/usr/bin/env bash
# npm test: every test/**/*.test.ts under node's test runner, in two groups so the suite fits CI's
# time on 2 cores. Unit-level folders (PARALLEL_DIRS: no server, browser, database, child process,
# fixed output path or timing; each file one process that mostly starts up, reads shared data and runs
# small graphs) run two files at a time; every other file runs alone, one after another, as before:
# they start servers, Chromium, PostgreSQL and child processes, watch memory, or cancel work on a
# timer. A new folder runs alone until it is added here. Extra arguments go to node (e.g.
# --test-reporter=spec); the exit status is non-zero if either group failed.
# MEDSAM2_TEST_EMBEDDING_CACHE: one slice-embedding cache for the run (test/helpers/runEmbeddingCache.ts),
# a fresh temp folder removed at the end unless the caller names one.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${MEDSAM2_TEST_EMBEDDING_CACHE:-}" ]; then
  MEDSAM2_TEST_EMBEDDING_CACHE=$(mktemp -d "${TMPDIR:-/tmp}/medsam2-test-embeddings-XXXXXX")
  export MEDSAM2_TEST_EMBEDDING_CACHE
  trap 'rm -rf "$MEDSAM2_TEST_EMBEDDING_CACHE"' EXIT
fi
PARALLEL_DIRS=(test/io test/metrics test/preprocess test/predictor test/models test/engine)
node_test=(node --import tsx --import ./test/helpers/nodePlatform.ts --test "$@")
mapfile -t parallel < <(find "${PARALLEL_DIRS[@]}" -name '*.test.ts' | sort)
mapfile -t serial < <(find test -name '*.test.ts' | sort | grep -v -x -F -f <(printf '%s\n' "${parallel[@]}"))
status=0
"${node_test[@]}" --test-concurrency=2 "${parallel[@]}" || status=1
"${node_test[@]}" --test-concurrency=1 "${serial[@]}" || status=1
exit $status
