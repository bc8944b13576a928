#!/usr/bin/env bash
# Builds and runs every dev/ kernel program (plus the torch.topk baseline when torch is importable),
# appending JSON lines to "$OUT/dev-kernels.jsonl" and everything to "$OUT/dev-kernels.log".
# One failing program does not stop the others; the summary line lists the failures.
# Usage (on the GPU host, from the repository root or anywhere): OUT=/tmp/out backends/cuda/dev/run-all.sh
set -u
DEV="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT:-$PWD/dev-out}"
ARCH="${DSA_DEV_ARCH:-sm_90a}"
BUILD="${DSA_DEV_BUILD:-$OUT/dev-build}"
mkdir -p "$OUT" "$BUILD"
JSONL="$OUT/dev-kernels.jsonl"
LOG="$OUT/dev-kernels.log"
: >"$JSONL"
: >"$LOG"
failed=()
log() { echo "$*" | tee -a "$LOG"; }

log "# dev kernels: arch $ARCH, $(date -u +%FT%TZ), $(nvcc --version | tail -1)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/# gpu: /' | tee -a "$LOG"

programs=(fused-small topk indexer sparse-mla gemv moe)
log "## build ${programs[*]} (in parallel)"
for program in "${programs[@]}"; do
  (nvcc -arch="$ARCH" -O3 -std=c++17 -lineinfo -o "$BUILD/$program" "$DEV/$program.cu" >"$BUILD/$program.build.log" 2>&1
   echo $? >"$BUILD/$program.build.rc") &
done
wait
for program in "${programs[@]}"; do
  cat "$BUILD/$program.build.log" >>"$LOG"
  if [ "$(cat "$BUILD/$program.build.rc")" != 0 ]; then
    log "## $program: BUILD FAILED"
    echo "{\"program\":\"$program\",\"status\":\"build_failed\"}" >>"$JSONL"
    failed+=("$program(build)")
    continue
  fi
  log "## run $program"
  start=$(date +%s)
  timeout "${DSA_DEV_TIMEOUT:-240}" "$BUILD/$program" >"$BUILD/$program.out" 2>&1
  rc=$?
  cat "$BUILD/$program.out" >>"$LOG"
  grep '^{' "$BUILD/$program.out" >>"$JSONL"
  log "## $program: exit $rc after $(($(date +%s) - start)) s"
  if [ "$rc" -ne 0 ]; then
    echo "{\"program\":\"$program\",\"status\":\"failed\",\"exit\":$rc}" >>"$JSONL"
    failed+=("$program")
  fi
done

if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  log "## run topk_torch.py"
  if python3 "$DEV/topk_torch.py" >"$BUILD/topk_torch.out" 2>&1; then
    grep '^{' "$BUILD/topk_torch.out" >>"$JSONL"
  else
    failed+=("topk_torch")
    echo '{"program":"topk_torch","status":"failed"}' >>"$JSONL"
  fi
  cat "$BUILD/topk_torch.out" >>"$LOG"
else
  log "## topk_torch.py skipped: torch with CUDA is not importable"
fi

summary="{\"summary\":\"dev-kernels\",\"failed\":[$(printf '"%s",' "${failed[@]+"${failed[@]}"}" | sed 's/,$//')]}"
echo "$summary" >>"$JSONL"
log "$summary"
[ "${#failed[@]}" -eq 0 ]
