#!/usr/bin/env bash
# Trains the needle-recall DSA model (fixtures/recall) on the GPU machine with the longer GPU plan, inside one
# device call (<= 10 min): tools/train/train_recall.py --device cuda --gpu-plan, several variants at once (the
# model is tiny, so they share the GPU; pick the best by its held-out accuracy in the log).
#   device run: bash tools/device/train-recall.sh BUDGET_S [NAME=ARGS ...]
#   e.g.        bash tools/device/train-recall.sh 480 base="--aux-prev 1.0" seed2="--aux-prev 1.0 --seed 2"
# Each variant NAME returns $OUT/recall-NAME.tgz: the exported model (config, safetensors, tokenizer, trainer
# goldens), log.jsonl and stdout.log. With no variants it trains one, base="--aux-prev 1.0".
set -uo pipefail
budget=${1:-480}
shift || true
[ $# -gt 0 ] || set -- "base=--aux-prev 1.0"
out=${OUT:-/tmp/out}
mkdir -p "$out"
{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'; } >> "$out/device.txt" 2>&1
train_one() {  # NAME ARGS
  local name=$1 run=/tmp/recall-$1
  mkdir -p "$run"
  # shellcheck disable=SC2086  # ARGS is a list of flags
  timeout "$budget" python3 -u tools/train/train_recall.py --device cuda --gpu-plan --threads 3 $2 \
    --run-dir "$run" --out "$run/export" > "$run/stdout.log" 2>&1
  echo "recall-$name: train exit $?" >> "$out/device.txt"
  if [ ! -f "$run/export/golden.safetensors" ]; then
    # Out of time: export what the last checkpoint holds (the log says which phases finished).
    # shellcheck disable=SC2086
    python3 tools/train/train_recall.py $2 --run-dir "/tmp/recall-export-$name" --export-from "$run/checkpoint.pt" \
      --out "$run/export" >> "$run/stdout.log" 2>&1
    echo "recall-$name: exported from the last checkpoint" >> "$out/device.txt"
  fi
  grep '"eval"' "$run/log.jsonl" | tail -1 | sed "s/^/recall-$name: /" >> "$out/device.txt"
  tar -czf "$out/recall-$name.tgz" -C "$run" export log.jsonl stdout.log
}
for v in "$@"; do
  train_one "${v%%=*}" "${v#*=}" &
done
wait
