#!/usr/bin/env bash
# Issue 15's targets are ratios to the official MedSAM2 code on the same machine in the same window, so
# this one script alternates the two, twice: the official harness (fair setting: OPENBLAS_NUM_THREADS=1,
# torch 2 threads, the OpenBLAS core type that runs this CPU's fastest fp32 GEMM), then
# `npm run bench -- --only sam2-tiny512 --runs 3 --e2e-runs 3`; it prints the medians and the ratios.
# It only runs what is already installed: the harness of BENCHMARKS.md "Zen 4 (AMD EPYC), session 12"
# under /tmp/fastbench/official (bowang-lab/MedSAM2 @ 332f30d + time_box_bidir.py, never committed) and
# Debian's python3-torch with OpenBLAS. It installs nothing.
#   scripts/officialPair.sh                      # core type chosen by a 1-thread 1024^3 matmul per candidate
#   OFFICIAL_CORETYPE=Haswell scripts/officialPair.sh   # or fixed ('auto' = OpenBLAS's own detection)
#   PAIRS=1 OFFICIAL_RUNS=1 scripts/officialPair.sh     # a shorter smoke run (defaults: 2 pairs, 2 timed official flows)
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-2}; OFFICIAL_RUNS=${OFFICIAL_RUNS:-2}
[[ $PAIRS =~ ^[1-9][0-9]*$ && $OFFICIAL_RUNS =~ ^[1-9][0-9]*$ ]] || { echo "officialPair: PAIRS and OFFICIAL_RUNS must be whole numbers >= 1 (got '$PAIRS', '$OFFICIAL_RUNS')" >&2; exit 2; }
HARNESS=${OFFICIAL_HARNESS:-/tmp/fastbench/official}
PY=/usr/bin/python3
FIX=../shared/fixtures/sam2
if [[ ! -f $HARNESS/time_box_bidir.py || ! -d $HARNESS/MedSAM2/sam2 ]] || ! $PY -c 'import torch, omegaconf' 2>/dev/null; then
  echo "officialPair: the official harness is absent ($HARNESS/time_box_bidir.py + MedSAM2/sam2 and Debian python3-torch; see BENCHMARKS.md 'Zen 4 (AMD EPYC), session 12'); nothing was run." >&2
  exit 2
fi
if ! OPENBLAS_VERBOSE=2 OPENBLAS_NUM_THREADS=1 $PY -c 'import torch; torch.ones(8, 8) @ torch.ones(8, 8)' 2>&1 | grep -q '^Core:'; then
  echo "officialPair: torch is not running on OpenBLAS (the reference libblas3 is active: apt-get install libopenblas0-pthread), so the official time would be handicapped; nothing was run." >&2
  exit 2
fi
[[ -f $FIX/tiny512_fp16.pt ]] || { echo "officialPair: fixtures missing at $FIX (the worktree's ../shared link); nothing was run." >&2; exit 2; }
LOG=${OFFICIAL_PAIR_LOG:-/tmp/fastbench/pair-$(date -u +%Y%m%dT%H%M%S)}
mkdir -p "$LOG"
echo "officialPair: logs in $LOG; $(lscpu | sed -n 's/^Model name:\s*//p'), $(nproc) cores; $(uptime | sed 's/.*load/load/')"

# 1024^3 fp32 matmul on 1 thread through torch (what the official code's linear layers call): GFLOP/s, best of 15.
MATMUL_PY=$(cat <<'EOF'
import time, torch
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
a = torch.randn(1024, 1024, generator=g); b = torch.randn(1024, 1024, generator=g)
ref = a.double() @ b.double()
err = float(((a @ b).double() - ref).abs().max() / ref.abs().max())
best = 1e9
for _ in range(15):
    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)
print(f"{2 * 1024**3 / best / 1e9:.1f} {err:.1e}")
EOF
)
coretype_env() { if [[ $1 == auto ]]; then echo "env -u OPENBLAS_CORETYPE"; else echo "env OPENBLAS_CORETYPE=$1"; fi; }

CORETYPE=${OFFICIAL_CORETYPE:-}
if [[ -z $CORETYPE ]]; then
  best=0
  for ct in auto Zen Haswell SkylakeX Cooperlake; do
    read -r gf err < <($(coretype_env "$ct") OPENBLAS_NUM_THREADS=1 $PY -c "$MATMUL_PY")
    echo "  OpenBLAS core type $ct: $gf GFLOP/s (1 thread, 1024^3 fp32, best of 15), rel. error vs float64 $err"
    if awk -v e="$err" 'BEGIN{exit !(e < 1e-5)}' && awk -v a="$gf" -v b="$best" 'BEGIN{exit !(a > b)}'; then best=$gf; CORETYPE=$ct; fi
  done
  echo "officialPair: fastest correct core type: $CORETYPE ($best GFLOP/s)"
fi

off_runs=() ; exact_runs=() ; fast_runs=()
for pair in $(seq 1 "$PAIRS"); do
  echo "== pair $pair: official (OPENBLAS_CORETYPE=$CORETYPE, OPENBLAS_NUM_THREADS=1, torch 2 threads), $(date -u +%H:%M:%S), $(uptime | sed 's/.*load/load/')"
  $(coretype_env "$CORETYPE") OPENBLAS_NUM_THREADS=1 $PY "$HARNESS/time_box_bidir.py" "$FIX" "$OFFICIAL_RUNS" 2>&1 | grep --line-buffered -v -i warn | tee "$LOG/official$pair.log"
  mapfile -t r < <(sed -n 's/^run [0-9]* \([0-9.]*\) s$/\1/p' "$LOG/official$pair.log")
  [[ ${#r[@]} -eq $OFFICIAL_RUNS ]] || { echo "officialPair: the official harness did not print $OFFICIAL_RUNS timed runs (see $LOG/official$pair.log)" >&2; exit 1; }
  off_runs+=("${r[@]}")
  echo "== pair $pair: medsam2.js bench, $(date -u +%H:%M:%S), $(uptime | sed 's/.*load/load/')"
  npm run --silent bench -- --only sam2-tiny512 --runs 3 --e2e-runs 3 > "$LOG/bench$pair.log" 2>&1 || { tail -5 "$LOG/bench$pair.log" >&2; exit 1; }
  grep -E 'machine:|box_bidir|image encoder ms|share of nominal' "$LOG/bench$pair.log" || true
  mapfile -t e < <(sed -n 's/^ *fp32: box_bidir runs s *//p' "$LOG/bench$pair.log" | tr '/' '\n' | tr -d ' ')
  mapfile -t f < <(sed -n 's/^ *int8: box_bidir runs s *//p' "$LOG/bench$pair.log" | tr '/' '\n' | tr -d ' ')
  [[ ${#e[@]} -ge 3 && ${#f[@]} -ge 3 ]] || { echo "officialPair: no box_bidir runs in $LOG/bench$pair.log" >&2; exit 1; }
  exact_runs+=("${e[@]}"); fast_runs+=("${f[@]}")
done

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
mo=$(median "${off_runs[@]}"); me=$(median "${exact_runs[@]}"); mf=$(median "${fast_runs[@]}")
echo "== result ($(date -u +%H:%M:%S), $(uptime | sed 's/.*load/load/')), tiny512 box_bidir:"
echo "  official ($CORETYPE, 1 BLAS thread): runs ${off_runs[*]} -> median $mo s"
echo "  exact (fp32):                  runs ${exact_runs[*]} -> median $me s -> $(awk -v o="$mo" -v x="$me" 'BEGIN{printf "%.2f", o/x}')x the official time (target >= 3)"
echo "  fast (--precision int8):       runs ${fast_runs[*]} -> median $mf s -> $(awk -v o="$mo" -v x="$mf" 'BEGIN{printf "%.2f", o/x}')x the official time (target >= 5)"
