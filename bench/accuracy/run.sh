#!/usr/bin/env bash
# Accuracy benchmark behind BENCHMARKS.md (default model, one key-slice box, then K simulated clicks).
# Usage: bench/accuracy/run.sh OUT_DIR [K]   (embeddings cached in $MEDSAM2_EMB_CACHE, default /tmp/medsam2-emb)
set -euo pipefail
out=${1:?out dir}; K=${2:-5}; cache=${MEDSAM2_EMB_CACHE:-/tmp/medsam2-emb}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
cd "$root"
run() { nice -n 5 node --import tsx src/cli/main.ts eval "$1" --out "$out/$2" --clicks "$K" --previews "$out/$2/previews" --embedding-cache "$cache" --threads 2 -q; }
run ../shared/data/ct-lesion ct-lesion
run bench/accuracy/organs-tune.json organs-tune
run bench/accuracy/organs-heldout.json organs-heldout
run bench/accuracy/mr.json mr
