#!/usr/bin/env bash
# Where the decode step's GPU time goes, per kernel, in one device call, from the carried .device/ folder:
#   bash .device/profile.sh [BUDGET_SECONDS]
# Eager decode (DSA_GRAPHS=0) with DSA_CUDA_PROFILE=1 and a 100 ms lead (DSA_CUDA_PROFILE_LEAD_MS): after
# each host wait the backend enqueues a GPU spin first, so the host enqueues the whole step ahead of the
# GPU and the events around each kernel time the kernel alone. `dsa bench` prints the tables (µs per
# step, launches per step) to stderr. Runs the device suite first (the launcher is what is profiled).
#   small bf16 b1 depth 1024; v32-dims fp8 b1 depth 4096; v32-dims fp8 b1 at 32K and 128K, sparse and
#   dense (the attention + indexer share of a step).
# Writes $OUT/profile.log (tables and JSON lines), $OUT/device-suite.json and $OUT/profile.tgz (all logs).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
FINAL_OUT=${OUT:-$HERE/out}
OUT=${TMPDIR:-/tmp}/profile-out
rm -rf "$OUT"
mkdir -p "$OUT" "$FINAL_OUT"
export OUT
BUDGET=${1:-560}
START=$(date +%s)
LOG=$OUT/profile-run.log
TMP=${TMPDIR:-/tmp}
NODE=$TMP/dsa-node-20.20.2/node
# shellcheck source=lib.sh
. "$HERE/lib.sh"

DSA_SKIP_SUITE=1 bash "$HERE/run.sh" >>"$LOG" 2>&1 # unpacks node and the fatbin, finds cuBLASLt
export DSA_CUDA_FATBIN=$(ls -d "$TMP"/dsa-node-20.20.2/kernels-*/dsa-kernels.fatbin | head -1)
export DSA_FIXTURES="$HERE/fixtures"
make_checkpoint fp8
device_suite
export DSA_CUDA_PROFILE=1 DSA_CUDA_PROFILE_LEAD_MS=100 DSA_GRAPHS=0 # eager, the profile lead on
bench 60 --preset small --dtype bf16 --depth 1024 --repeat 5
wait_for "$TMP/dsa-bench-v32-dims-fp8/config.json"
bench 90 --preset v32-dims --dtype fp8 --depth 4096 --repeat 5
bench 150 --preset v32-dims --dtype fp8 --depth 32768,131072 --attention sparse,dense --repeat 3
log "done"
cp "$OUT/profile.log" "$OUT/device-suite.json" "$FINAL_OUT/" 2>/dev/null
tar czf "$FINAL_OUT/profile.tgz" -C "$OUT" .
