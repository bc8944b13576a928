#!/usr/bin/env bash
# The issue-6 measurement set, from the carried .device/ folder, in two device calls of ≤ 10 minutes:
#   bash .device/e2e.sh [BUDGET_SECONDS] [decode|long|all]
#   decode (default): device suite; `small` b1 with graphs (host overhead); top-k and GEMV dev kernels vs
#                     torch.topk (E2E_SKIP_DEV=1 skips them); v32-dims b1 depth 4096 fp8 (roofline) and
#                     bf16; transformers on the same bf16 checkpoint (peer.sh: decode speed, 16K prefill,
#                     logits cross-check).
#   long:             v32-dims fp8 at 8K–128K, sparse and dense, batch 1 and 16 (graphs); per-kernel
#                     tables at 32K and 128K (eager) for the attention + indexer share; a 128K prefill.
# Generates the random v32-dims checkpoints in the background from the start, gives every step a timeout
# and skips what no longer fits in BUDGET_SECONDS (default 560). E2E_DEV_PROGRAMS="topk gemv sparse-mla" picks the
# dev/ programs (default topk gemv); E2E_SKIP_PEER=1 skips transformers. DSA_CUDA_PROFILE=1 throughout: graph
# runs report tg_gpu_ms / host_fraction, eager runs print per-kernel tables (profile.log).
# Eager runs set DSA_CUDA_PROFILE_LEAD_MS so their per-kernel tables time kernels, not launch gaps.
# Works in $TMPDIR/e2e-out and copies to $OUT (the device tool returns at most 8 files): bench.jsonl (every
# `dsa bench --json` line), e2e.log, device-suite.json, peer.json, crosscheck.json, dev-kernels.jsonl and
# e2e.tgz with everything (device-suite.log, profile.log with the kernel tables, peer.log, dev-kernels.log, …).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
FINAL_OUT=${OUT:-$HERE/out}
OUT=${TMPDIR:-/tmp}/e2e-out
rm -rf "$OUT"
export OUT
BUDGET=${1:-560}
PART=${2:-decode}
START=$(date +%s)
mkdir -p "$OUT"
LOG=$OUT/e2e.log
: >"$OUT/bench.jsonl"
TMP=${TMPDIR:-/tmp}
NODE=$TMP/dsa-node-20.20.2/node
export DSA_CUDA_PROFILE=1
# shellcheck source=lib.sh
. "$HERE/lib.sh"

DSA_SKIP_SUITE=1 bash "$HERE/run.sh" >>"$LOG" 2>&1 # unpacks node and the fatbin, finds cuBLASLt
export DSA_CUDA_FATBIN=$(ls -d "$TMP"/dsa-node-20.20.2/kernels-*/dsa-kernels.fatbin | head -1)
export DSA_FIXTURES="$HERE/fixtures"
make_checkpoint fp8
[ "$PART" = long ] || make_checkpoint bf16

if [ "$PART" != long ]; then
  DEV=$HERE/dev
  DEV_PROGRAMS=${E2E_DEV_PROGRAMS:-topk gemv}
  NVCC_PIDS=
  if [ -d "$DEV" ] && command -v nvcc >/dev/null && [ "${E2E_SKIP_DEV:-0}" != 1 ]; then
    mkdir -p "$TMP/dev-build"
    for p in $DEV_PROGRAMS; do
      nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -o "$TMP/dev-build/$p" "$DEV/$p.cu" >"$TMP/dev-build/$p.build.log" 2>&1 &
      NVCC_PIDS="$NVCC_PIDS $!"
    done
  fi
  # 1. Correctness.
  device_suite
  # 2. Host overhead with graphs (small preset; its checkpoint takes seconds).
  bench 60 --preset small --dtype bf16 --depth 1024 --repeat 30
  DSA_GRAPHS=0 DSA_CUDA_PROFILE_LEAD_MS=50 bench 40 --preset small --dtype bf16 --depth 1024 --repeat 5
  # 3. The kernels against torch.topk and the HBM peak.
  # shellcheck disable=SC2086 # a list of PIDs
  [ -n "$NVCC_PIDS" ] && wait $NVCC_PIDS
  if [ "${E2E_SKIP_DEV:-0}" != 1 ]; then
    : >"$OUT/dev-kernels.jsonl"
    for p in $DEV_PROGRAMS; do
      [ -x "$TMP/dev-build/$p" ] || { log "dev/$p did not build: $(tail -3 "$TMP/dev-build/$p.build.log" 2>/dev/null)"; continue; }
      log "dev/$p"
      timeout 60 "$TMP/dev-build/$p" >"$TMP/dev-$p.out" 2>&1
      log "dev/$p exit $?"
      cat "$TMP/dev-$p.out" >>"$OUT/dev-kernels.log"
      grep '^{' "$TMP/dev-$p.out" >>"$OUT/dev-kernels.jsonl"
    done
    timeout 60 python3 "$DEV/topk_torch.py" 2>/dev/null | grep '^{' >>"$OUT/dev-kernels.jsonl"
  fi
  # 4. v32-dims (2 layers) decode at depth 4096: fp8 (roofline), its kernel table, bf16 (the peer's checkpoint).
  wait_for "$TMP/dsa-bench-v32-dims-fp8/config.json"
  bench 120 --preset v32-dims --dtype fp8 --depth 4096 --repeat 20
  DSA_GRAPHS=0 DSA_CUDA_PROFILE_LEAD_MS=50 bench 60 --preset v32-dims --dtype fp8 --depth 4096 --repeat 5
  wait_for "$TMP/dsa-bench-v32-dims-bf16/config.json"
  bench 120 --preset v32-dims --dtype bf16 --depth 4096 --repeat 20
  # 5. transformers on the same bf16 checkpoint.
  if [ "${E2E_SKIP_PEER:-0}" = 1 ]; then
    log "skipped (E2E_SKIP_PEER=1): peer.sh"
  elif [ "$(left)" -gt 120 ]; then
    log "peer.sh (transformers)"
    timeout $(($(left) - 5)) bash "$HERE/peer.sh" "$TMP/dsa-bench-v32-dims-bf16" >>"$LOG" 2>&1
    log "peer.sh exit $?"
  else
    log "skipped (no time left): peer.sh"
  fi
fi

if [ "$PART" != decode ]; then
  wait_for "$TMP/dsa-bench-v32-dims-fp8/config.json"
  # 6. Long context with graphs: b1 at 8K–128K, b16 at 32K and 128K, sparse and dense.
  bench 150 --preset v32-dims --dtype fp8 --depth 8192,32768,65536,131072 --attention sparse,dense --repeat 5
  bench 120 --preset v32-dims --dtype fp8 --depth 32768,131072 --batch 16 --attention sparse,dense --repeat 3
  # 7. Per-kernel tables (eager) at 32K and 128K, b1: the attention + indexer share of a step.
  DSA_GRAPHS=0 DSA_CUDA_PROFILE_LEAD_MS=100 bench 90 --preset v32-dims --dtype fp8 --depth 32768,131072 --attention sparse,dense --repeat 3
  # 8. A 128K-token prefill in 512-token chunks (fill_tok_s), then decode after it.
  bench 150 --preset v32-dims --dtype fp8 --depth 131072 --cache prefill --repeat 3
fi
log "done"
mkdir -p "$FINAL_OUT"
for f in bench.jsonl e2e.log device-suite.json peer.json crosscheck.json dev-kernels.jsonl; do
  [ -f "$OUT/$f" ] && cp "$OUT/$f" "$FINAL_OUT/"
done
tar czf "$FINAL_OUT/e2e.tgz" -C "$OUT" .
