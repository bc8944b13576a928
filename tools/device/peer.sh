#!/usr/bin/env bash
# On the GPU machine, after run.sh has generated a checkpoint (e.g. `dsa bench --preset v32-dims --dtype bf16`):
#   bash .device/peer.sh MODEL_DIR [DEPTH] [LONG]
# 1. transformers' DeepseekV32ForCausalLM on MODEL_DIR (tools/reference/hf_v32_peer.py): float32 logits of a
#    seeded 64-token prompt, then bf16/sdpa decode speed at batch 1 after a DEPTH-token prefill, then a
#    LONG-token prefill (out of memory or not)  -> $OUT/peer.json, $OUT/peer.log
# 2. our CUDA backend on the same prompt (`dsa forward --backend cuda`), logits compared with the peer's
#    -> $OUT/crosscheck.json
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
MODEL=$1
DEPTH=${2:-4096}
LONG=${3:-16384}
OUT=${OUT:-$HERE/out}
NODE=${TMPDIR:-/tmp}/dsa-node-20.20.2/node
export DSA_CUDA_FATBIN=$(ls -d "${TMPDIR:-/tmp}"/dsa-node-20.20.2/kernels-*/dsa-kernels.fatbin | head -1)
PEER=${TMPDIR:-/tmp}/dsa-peer
PYTHONUNBUFFERED=1 python3 "$HERE/hf_v32_peer.py" "$MODEL" --out "$PEER" --depth "$DEPTH" --long "$LONG" 2>&1 \
  | grep -v Warning | tee "$OUT/peer.log"
cp "$PEER.json" "$OUT/peer.json" 2>/dev/null
IDS=$(python3 -c "
from safetensors.torch import load_file
t = load_file('$PEER.safetensors')['prompt.input_ids']
print(','.join(str(int(i)) for i in t))")
(cd "$HERE" && "$NODE" "$HERE/dsa.mjs" forward --backend cuda --model "$MODEL" --ids "$IDS" --out "$PEER-ours.safetensors" --quiet) 2>&1 | tail -3
python3 - "$PEER" <<'EOF' | tee "$OUT/crosscheck.json"
import json, sys
from safetensors.torch import load_file
peer = load_file(sys.argv[1] + ".safetensors")["prompt.logits"].double()
ours = load_file(sys.argv[1] + "-ours.safetensors")
key = "logits" if "logits" in ours else next(iter(ours))
ours = ours[key].double().reshape(peer.shape)
diff = (ours - peer).abs()
print(json.dumps({
    "crosscheck": "dsa cuda (f32 activations) vs transformers float32 eager, same checkpoint and ids",
    "positions": peer.shape[0],
    "max_abs_diff": float(diff.max()),
    "mean_abs_diff": float(diff.mean()),
    "logits_abs_max": float(peer.abs().max()),
    "argmax_agreement": float((ours.argmax(-1) == peer.argmax(-1)).double().mean()),
}))
EOF
