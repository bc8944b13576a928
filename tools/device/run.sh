#!/usr/bin/env bash
# Runs on the GPU machine from the carried .device/ folder:
#   bash .device/run.sh ["bench args" ...]
# 1. unpacks node and the fatbin (once per machine, into $TMPDIR), 2. runs the device suite (conformance kit,
# behaviour checks, fixtures) -> $OUT/device-suite.{log,json}, 3. runs `dsa bench <args>` for each
# argument -> $OUT/bench-N.log. Exit status: the device suite's (0 all passed, 1 a check failed,
# 2 the cuda backend could not start), or the first failing bench's.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE/out}
mkdir -p "$OUT"
NODE_DIR=${TMPDIR:-/tmp}/dsa-node-20.20.2
NODE=$NODE_DIR/node
if [ ! -x "$NODE" ]; then
  mkdir -p "$NODE_DIR"
  xz -dc "$HERE/node.xz" > "$NODE.tmp" && chmod +x "$NODE.tmp" && mv "$NODE.tmp" "$NODE" || { echo "cannot unpack node"; exit 3; }
fi
KERNELS=$NODE_DIR/kernels-$(cksum < "$HERE/kernels/dsa-kernels.fatbin.xz" | cut -d' ' -f1)
if [ ! -s "$KERNELS/dsa-kernels.fatbin" ]; then
  mkdir -p "$KERNELS"
  xz -dc "$HERE/kernels/dsa-kernels.fatbin.xz" > "$KERNELS/dsa-kernels.fatbin" || { echo "cannot unpack the fatbin"; exit 3; }
  cp "$HERE/kernels/dsa-kernels.json" "$KERNELS/"
  cp "$HERE"/kernels/*.sm90a.fatbin "$KERNELS/" 2>/dev/null || true  # whole-program Hopper modules (manifest `modules`)
fi
export DSA_CUDA_FATBIN="$KERNELS/dsa-kernels.fatbin"
export DSA_FIXTURES="$HERE/fixtures"
# cuBLASLt for the prefill GEMM: the loader's, else a toolkit's or a pip wheel's (torch), .13 before .12.
if [ -z "${DSA_CUDA_CUBLASLT_PATH:-}" ] && [ "${DSA_CUDA_CUBLASLT:-1}" != 0 ]; then
  for v in 13 12; do
    lt=$( (ldconfig -p 2>/dev/null | awk -v n="libcublasLt.so.$v" '$1 == n {print $NF}';
      find /usr/local /usr/lib /opt /root /home -maxdepth 9 -name "libcublasLt.so.$v" 2>/dev/null) | head -1)
    if [ -n "$lt" ]; then export DSA_CUDA_CUBLASLT_PATH="$lt"; break; fi
  done
fi
{
  echo "== $(date -u +%FT%TZ) $(uname -srm)"
  cat "$HERE/build-info.json" 2>/dev/null
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 || true
  "$NODE" --version
  echo "cuBLASLt: ${DSA_CUDA_CUBLASLT_PATH:-not found (prefill GEMM: dsa_gemm_mma)}"
} | tee "$OUT/environment.log"
if [ "${DSA_SKIP_SUITE:-0}" = 1 ]; then
  status=0 # DSA_SKIP_SUITE=1: benches only (e.g. a second call on the still-warm machine)
else
  "$NODE" "$HERE/device-suite.mjs" --json "$OUT/device-suite.json" ${DSA_SUITE_ARGS:-} 2>&1 | tee "$OUT/device-suite.log"
  status=${PIPESTATUS[0]}
fi
i=0
for line in "$@"; do
  i=$((i + 1))
  echo "== dsa bench $line" | tee "$OUT/bench-$i.log"
  # shellcheck disable=SC2086 # each argument is one command line, split on spaces on purpose
  (cd "$HERE" && "$NODE" "$HERE/dsa.mjs" bench $line) 2>&1 | tee -a "$OUT/bench-$i.log"
  bench=${PIPESTATUS[0]}
  if [ "$status" = 0 ] && [ "$bench" != 0 ]; then status=$bench; fi
done
echo "== run.sh exit $status" | tee -a "$OUT/environment.log"
exit "$status"
