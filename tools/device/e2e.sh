#!/usr/bin/env bash
# The issue-6 measurement set in one device call (≤ 10 minutes), from the carried .device/ folder:
#   bash .device/e2e.sh [BUDGET_SECONDS]
# Overlaps the CPU-bound parts (random v32-dims checkpoints, nvcc builds of the dev kernels) with the GPU
# parts, gives every step a timeout, and skips what no longer fits in BUDGET_SECONDS (default 560).
# Writes to $OUT: device-suite.{log,json} (correctness), dev-kernels.{jsonl,log} (top-k and GEMV kernels
# against torch.topk and the HBM peak), bench.jsonl (every `dsa bench --json` line) and e2e.log.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE/out}
BUDGET=${1:-560}
START=$(date +%s)
mkdir -p "$OUT"
LOG=$OUT/e2e.log
: >"$OUT/bench.jsonl"
log() { echo "[e2e $(($(date +%s) - START))s] $*" | tee -a "$LOG"; }
left() { echo $((BUDGET - ($(date +%s) - START))); }
TMP=${TMPDIR:-/tmp}
NODE=$TMP/dsa-node-20.20.2/node

# 1. Correctness first (unpacks node and the fatbin), while the checkpoints are generated beside it.
log "device suite"
bash "$HERE/run.sh" >>"$LOG" 2>&1
log "device suite exit $?: $(grep -o '"passed":[0-9]*,"failed":[0-9]*' "$OUT/device-suite.log" | tail -1)"
export DSA_CUDA_FATBIN=$(ls -d "$TMP"/dsa-node-20.20.2/kernels-*/dsa-kernels.fatbin | head -1)
for dtype in fp8 bf16; do
  dir=$TMP/dsa-bench-v32-dims-$dtype
  [ -s "$dir/config.json" ] || (cd "$HERE" && "$NODE" dsa.mjs make-model --preset v32-dims --dtype $dtype --seed 1 \
    --out "$dir.part" >"$OUT/make-$dtype.log" 2>&1 && mv "$dir.part" "$dir") &
done
DEV=$HERE/dev
if [ -d "$DEV" ] && command -v nvcc >/dev/null; then
  mkdir -p "$TMP/dev-build"
  for p in topk gemv; do
    nvcc -arch=sm_90a -O3 -std=c++17 -o "$TMP/dev-build/$p" "$DEV/$p.cu" >"$TMP/dev-build/$p.build.log" 2>&1 &
  done
fi

bench() { # $1 = timeout seconds, rest = dsa bench arguments
  local limit=$1
  shift
  local room
  room=$(left)
  if [ "$room" -lt 20 ]; then
    log "skipped (no time left): dsa bench $*"
    return
  fi
  [ "$limit" -gt "$room" ] && limit=$room
  log "dsa bench $* (timeout ${limit}s)"
  (cd "$HERE" && timeout "$limit" "$NODE" dsa.mjs bench --backend cuda --json "$@") >"$TMP/bench.out" 2>"$TMP/bench.err"
  log "exit $?; $(grep -h '^graphs' "$TMP/bench.err" | tail -1)"
  grep -h '^{' "$TMP/bench.out" | tee -a "$OUT/bench.jsonl" >>"$LOG"
  grep -v '^graphs' "$TMP/bench.err" | tail -3 >>"$LOG"
}

# 2. Host overhead with graphs (small preset; its checkpoint takes seconds), with and without graphs.
bench 60 --preset small --dtype bf16 --depth 1024 --repeat 20
DSA_GRAPHS=0 bench 40 --preset small --dtype bf16 --depth 1024 --repeat 20

# 3. The kernels against torch.topk and the HBM peak.
wait_for() { while [ ! -s "$1" ] && [ "$(left)" -gt 30 ] && jobs %% >/dev/null 2>&1; do sleep 2; done; }
if [ -x "$TMP/dev-build/topk" ] || [ -x "$TMP/dev-build/gemv" ]; then
  : >"$OUT/dev-kernels.jsonl"
  for p in topk gemv; do
    [ -x "$TMP/dev-build/$p" ] || { log "dev/$p did not build: $(tail -3 "$TMP/dev-build/$p.build.log")"; continue; }
    log "dev/$p"
    timeout 60 "$TMP/dev-build/$p" >"$TMP/dev-$p.out" 2>&1
    log "dev/$p exit $?"
    cat "$TMP/dev-$p.out" >>"$OUT/dev-kernels.log"
    grep '^{' "$TMP/dev-$p.out" >>"$OUT/dev-kernels.jsonl"
  done
  python3 "$DEV/topk_torch.py" 2>/dev/null | grep '^{' >>"$OUT/dev-kernels.jsonl"
fi

# 4. v32-dims (2 layers) decode at depth 4096: fp8 (roofline), bf16 (the peer's checkpoint), then long context.
wait_for "$TMP/dsa-bench-v32-dims-fp8/config.json"
bench 120 --preset v32-dims --dtype fp8 --depth 4096 --repeat 10
wait_for "$TMP/dsa-bench-v32-dims-bf16/config.json"
bench 120 --preset v32-dims --dtype bf16 --depth 4096 --repeat 10
bench 150 --preset v32-dims --dtype fp8 --depth 8192,32768,65536,131072 --attention sparse,dense --repeat 3
bench 120 --preset v32-dims --dtype fp8 --depth 32768,131072 --batch 16 --attention sparse,dense --repeat 3
log "done"
