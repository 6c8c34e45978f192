#!/usr/bin/env bash
# npm test: every test/**/*.test.ts under node's test runner, in three groups so the suite fits CI's
# time on 2 cores. Unit-level folders (PARALLEL_DIRS: no server, browser, database, child process,
# fixed output path or timing; each file one process that mostly starts up, reads shared data and runs
# small graphs) run first, two files at a time. Then the rest in two lanes side by side, each lane one
# file after another: the HEAVY lane holds the files that keep the CPU busy for long (models over real
# volumes, Chromium sessions, the SAM2 fixtures, the services' start-ups: ≥ 8 s in a CI run), the light
# lane every other file (start-up, small servers, SQL, short waits), which mostly waits and so costs
# the heavy lane little. Two heavy files side by side are slower than one after the other (each ORT
# session runs 2 threads: measured 2.2× per test, session 12), hence one heavy lane. A new file runs in
# the light lane until it is listed in HEAVY. The light lane's output is printed after the heavy
# lane's. Extra arguments go to node (e.g. --test-reporter=spec); the exit status is non-zero if any
# group failed.
# MEDSAM2_TEST_EMBEDDING_CACHE: one slice-embedding cache for the run (test/helpers/runEmbeddingCache.ts;
# `medsam2` child processes started by test/helpers/cli.ts get it as MEDSAM2_EMBEDDING_CACHE),
# and the `medsam2 segment` outputs several files compare against (test/helpers/runSegmentOutputs.ts),
# a fresh temp folder removed at the end unless the caller names one.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${MEDSAM2_TEST_EMBEDDING_CACHE:-}" ]; then
  MEDSAM2_TEST_EMBEDDING_CACHE=$(mktemp -d "${TMPDIR:-/tmp}/medsam2-test-embeddings-XXXXXX")
  export MEDSAM2_TEST_EMBEDDING_CACHE
  trap 'rm -rf "$MEDSAM2_TEST_EMBEDDING_CACHE"' EXIT
fi
# CLI tests (test/helpers/cli.ts) run the built CLI, dist/cli/main.js, when it was built after every
# file of src/ (CI: npm ci's prepare builds it); else src/cli/main.ts through tsx, as a single test file does.
if [ -e dist/cli/main.js ] && [ -z "$(find src -newer dist/cli/main.js -print -quit)" ]; then
  export MEDSAM2_TEST_BUILT_CLI=1
else
  echo "runTests: dist/ is missing or older than src/: CLI tests run src/cli/main.ts through tsx (npm run build to test the built CLI)"
fi
PARALLEL_DIRS=(test/io test/metrics test/preprocess test/predictor test/models test/engine)
HEAVY=(
  test/accuracy/clicksOrgans.test.ts
  test/accuracy/clicksRealData.test.ts
  test/accuracy/negativeClickFloor.test.ts
  test/accuracy/negativeClickGuard.test.ts
  test/accuracy/perLabelEval.test.ts
  test/accuracy/pixelEdgesRealData.test.ts
  test/cli/cli.test.ts
  test/cli/evalPictures.test.ts
  test/cli/interrupt.test.ts
  test/cli/interruptModelCall.test.ts
  test/cli/picture.test.ts
  test/cli/readmeExamples.test.ts
  test/cli/video.test.ts
  test/dicom/cli.test.ts
  test/dicom/dicomweb.test.ts
  test/families/cancelBetweenCalls.test.ts
  test/hostile/clientChaos.test.ts
  test/hostile/hostile.test.ts
  test/hostile/projectCli.test.ts
  test/parity/imageEncoder.test.ts
  test/parity/memoryAttention.test.ts
  test/parity/memoryEncoder.test.ts
  test/parity/predictor.test.ts
  test/parity/samHeads.test.ts
  test/pipelines/sam2Volume.test.ts
  test/pipelines/segmentVideo.test.ts
  test/pipelines/segmentVolume.test.ts
  test/projects/lifecycle.test.ts
  test/projects/projectCli.test.ts
  test/projects/projectRound.test.ts
  test/server/api.test.ts
  test/server/caseSeed.test.ts
  test/server/clickDecoders.test.ts
  test/server/clicksDuringPropagation.test.ts
  test/server/jobCancel.test.ts
  test/server/jobCancelLoad.test.ts
  test/server/jobOrphans.test.ts
  test/server/jobResume.test.ts
  test/server/ortWorkerLoop.test.ts
  test/server/projectJobsList.test.ts
  test/server/projectPacsSend.test.ts
  test/server/projectsRound.test.ts
  test/server/recovery.test.ts
  test/server/sam2.test.ts
  test/server/session.test.ts
  test/server/sliceReads.test.ts
  test/server/storeMigration.test.ts
  test/server/usersCli.test.ts
  test/server/video.test.ts
  test/server/videoJob.test.ts
  test/session/sam1Session.test.ts
  test/session/sam2Session.test.ts
  test/web/app.test.ts
  test/web/dicomFolderProgress.test.ts
  test/web/dicomOpen.test.ts
  test/web/droppedFolder.test.ts
  test/web/messageBarAndWindowReset.test.ts
  test/web/projectDicomCase.test.ts
  test/web/projectSegExport.test.ts
  test/web/projects.test.ts
  test/web/thickSlices.test.ts
  test/web/video.test.ts
  test/web/videoObjects.test.ts
  test/web/videoUse.test.ts
  test/web/viewerControls.test.ts
  test/web/viewerState.test.ts
)
node_test=(node --import tsx --import ./test/helpers/nodePlatform.ts --test "$@")
mapfile -t parallel < <(find "${PARALLEL_DIRS[@]}" -name '*.test.ts' | sort)
mapfile -t rest < <(find test -name '*.test.ts' | sort | grep -v -x -F -f <(printf '%s\n' "${parallel[@]}"))
mapfile -t heavy < <(printf '%s\n' "${rest[@]}" | grep -x -F -f <(printf '%s\n' "${HEAVY[@]}"))
mapfile -t light < <(printf '%s\n' "${rest[@]}" | grep -v -x -F -f <(printf '%s\n' "${HEAVY[@]}"))
for f in "${HEAVY[@]}"; do [ -e "$f" ] || { echo "runTests: HEAVY names $f, which does not exist (renamed? update scripts/runTests.sh)" >&2; exit 2; }; done
status=0
"${node_test[@]}" --test-concurrency=2 "${parallel[@]}" || status=1
light_log=$(mktemp "${TMPDIR:-/tmp}/medsam2-test-light-XXXXXX")
"${node_test[@]}" --test-concurrency=1 "${light[@]}" > "$light_log" 2>&1 &
light_pid=$!
"${node_test[@]}" --test-concurrency=1 "${heavy[@]}" || status=1
wait "$light_pid" || status=1
echo "# ---- light lane (ran beside the heavy lane) ----"
cat "$light_log"
rm -f "$light_log"
exit $status
