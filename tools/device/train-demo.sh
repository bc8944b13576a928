#!/usr/bin/env bash
# Trains dsa-demo (tools/demo-model/train_demo.py) on the GPU machine in the background, across device calls.
# Run from the repo root with `.demo/data` carried (carry: [".demo/data"]).
#   bash tools/device/train-demo.sh start BUDGET_S [train_demo args]   # setsid nohup; prints the first ~40 s (self-tests)
#   bash tools/device/train-demo.sh wait SECONDS     # until the run ends or SECONDS pass (log tail every 30 s), then collect
#   bash tools/device/train-demo.sh collect PART     # PART: fp8 | bf16 | bf16-goldens | logs
# The machine stays warm only ~30 s between calls: follow `start` with `wait` calls at once.
# What comes back ($OUT, <= 8 files of <= 16 MiB):
#   fp8           demo-fp8.tgz.part-aa.. (export-fp8: shards, config, tokenizer, goldens; `cat part-* | tar -xz`),
#                 eval.json, log.jsonl, stdout.log
#   bf16          demo-bf16.tgz.part-aa.. (export-bf16 without its goldens), log.jsonl
#   bf16-goldens  demo-bf16-goldens.tgz (the goldens on the bf16 weights)
#   logs          eval.json, log.jsonl, stdout.log (whatever exists)
# `wait` collects fp8 when the fp8 export is complete, else logs.
set -uo pipefail
run=${DEMO_RUN:-/tmp/demo-run}
out=${OUT:-/tmp/out}
mkdir -p "$out"
mode=${1:?usage: train-demo.sh start BUDGET_S [args] | wait SECONDS | collect PART}
shift

running() { [ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null; }

copy_logs() {
  for f in eval.json log.jsonl stdout.log; do
    [ -f "$run/$f" ] && cp "$run/$f" "$out/"
  done
}

pack() {  # NAME DIR [tar args]: DIR's files as NAME.tgz, split into 15 MiB parts
  local name=$1 dir=$2
  shift 2
  tar -czf "/tmp/$name.tgz" -C "$dir" "$@" .
  split -b 15M -a 2 "/tmp/$name.tgz" "$out/$name.tgz.part-"
  rm -f "/tmp/$name.tgz"
  ls -l "$out"
}

collect() {
  case $1 in
    fp8) pack demo-fp8 "$run/export-fp8"; copy_logs ;;
    bf16) pack demo-bf16 "$run/export-bf16" --exclude='./golden*'; cp "$run/log.jsonl" "$out/" ;;
    bf16-goldens) tar -czf "$out/demo-bf16-goldens.tgz" -C "$run/export-bf16" golden.safetensors golden-chat.safetensors ;;
    logs) copy_logs ;;
    *) echo "collect: unknown part $1 (fp8 | bf16 | bf16-goldens | logs)"; return 2 ;;
  esac
}

case $mode in
  start)
    budget=${1:?start BUDGET_S}
    shift
    if running; then echo "already running (pid $(cat "$run/pid"))"; exit 1; fi
    mkdir -p "$run"
    { nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
      "${DEMO_PYTHON:-python3}" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
      ls -l .demo/data; } > "$run/stdout.log" 2>&1
    setsid nohup "${DEMO_PYTHON:-python3}" -u tools/demo-model/train_demo.py --data .demo/data --run-dir "$run" --device "${DEMO_DEVICE:-cuda}" \
      --threads "${DEMO_THREADS:-8}" --budget-s "$budget" "$@" >> "$run/stdout.log" 2>&1 < /dev/null &
    echo $! > "$run/pid"
    for _ in $(seq 40); do
      sleep 1
      running || break
      grep -q '"phase": "A"' "$run/stdout.log" && break
    done
    cat "$run/stdout.log"
    running && echo "train-demo: running (pid $(cat "$run/pid"))" || echo "train-demo: NOT running"
    copy_logs
    ;;
  wait)
    seconds=${1:?wait SECONDS}
    end=$((SECONDS + seconds))
    while running && [ $SECONDS -lt $end ]; do
      sleep $(( end - SECONDS < 30 ? (end - SECONDS > 0 ? end - SECONDS : 1) : 30 ))
      echo "--- $(date +%T)"; tail -n 3 "$run/stdout.log"
    done
    running && echo "train-demo: still running" || { echo "train-demo: finished"; tail -n 25 "$run/stdout.log"; }
    if [ -f "$run/export-fp8/golden-chat.safetensors" ] || [ -f "$run/export-fp8/golden.safetensors" ] && ! running; then
      collect fp8
    else
      collect logs
    fi
    ;;
  collect)
    collect "${1:?collect PART}"
    ;;
  *)
    echo "unknown mode $mode"; exit 2 ;;
esac
