#!/usr/bin/env bash
# Trains the needle-recall DSA model (fixtures/recall) on the GPU machine with the longer GPU plan, inside one
# device call (<= 10 min): tools/train/train_recall.py --device cuda --gpu-plan. Results go to $OUT (at most 8
# files): the exported model (config, safetensors, tokenizer, trainer goldens) and the training log.
#   device run: bash tools/device/train-recall.sh [BUDGET_S]     (default 540)
set -uo pipefail
budget=${1:-540}
out=${OUT:-/tmp/out}
run=/tmp/recall-run
mkdir -p "$out" "$run"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$out/device.txt" 2>&1
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' >> "$out/device.txt" 2>&1
timeout "$budget" python3 -u tools/train/train_recall.py --device cuda --gpu-plan --aux-prev 1.0 --threads 8 \
  --run-dir "$run" --out "$run/export" > "$run/stdout.log" 2>&1
echo "train exit $?" >> "$out/device.txt"
if [ ! -f "$run/export/golden.safetensors" ]; then
  # Out of time: export what the last checkpoint holds (the log says which phases finished).
  python3 tools/train/train_recall.py --run-dir /tmp/recall-export --export-from "$run/checkpoint.pt" \
    --out "$run/export" >> "$run/stdout.log" 2>&1
  echo "exported from the last checkpoint" >> "$out/device.txt"
fi
cp "$run/export/"{config.json,model.safetensors,golden.safetensors,tokenizer.json,tokenizer_config.json} "$out/" 2>/dev/null
cp "$run/log.jsonl" "$out/train-log.jsonl"
tail -5 "$run/stdout.log" >> "$out/device.txt"
