# Shared by e2e.sh and profile.sh (sourced): timing, logging, checkpoints and `dsa bench` runs within a budget.
# Expects HERE (the .device folder), OUT (work folder), TMP, NODE, START (epoch seconds), BUDGET (seconds), LOG.
log() { echo "[$(basename "$0" .sh) $(($(date +%s) - START))s] $*" | tee -a "$LOG"; }
left() { echo $((BUDGET - ($(date +%s) - START))); }
# wait_for FILE: until FILE exists, the budget runs out, or its maker failed (DIR.failed beside DIR/config.json).
wait_for() {
  local failed
  failed="$(dirname "$1").failed"
  while [ ! -s "$1" ] && [ ! -e "$failed" ] && [ "$(left)" -gt 30 ]; do sleep 2; done
  [ -e "$failed" ] && log "$(dirname "$1") was not made: $(tail -2 "$failed")"
  return 0
}

# make_checkpoint DTYPE: the random v32-dims checkpoint in $TMP/dsa-bench-v32-dims-DTYPE, in the background.
make_checkpoint() {
  local dir=$TMP/dsa-bench-v32-dims-$1
  [ -s "$dir/config.json" ] || (cd "$HERE" && "$NODE" dsa.mjs make-model --preset v32-dims --dtype "$1" --seed 1 \
    --out "$dir.part" >"$OUT/make-$1.log" 2>&1 && mv "$dir.part" "$dir" || cp "$OUT/make-$1.log" "$dir.failed") &
}

# bench TIMEOUT ARGS...: `dsa bench --backend cuda --json ARGS` within what is left of the budget. The JSON
# lines go to $OUT/bench.jsonl; the kernel tables (stderr) and the JSON to $OUT/profile.log.
bench() {
  local limit=$1
  shift
  local room
  room=$(left)
  if [ "$room" -lt 20 ]; then
    log "skipped (no time left): dsa bench $*"
    return
  fi
  [ "$limit" -gt "$room" ] && limit=$room
  log "dsa bench $* (timeout ${limit}s; DSA_GRAPHS=${DSA_GRAPHS:-1})"
  echo "== dsa bench $* (DSA_GRAPHS=${DSA_GRAPHS:-1} DSA_CUDA_PROFILE_LEAD_MS=${DSA_CUDA_PROFILE_LEAD_MS:-0})" >>"$OUT/profile.log"
  (cd "$HERE" && timeout "$limit" "$NODE" dsa.mjs bench --backend cuda --json "$@") >"$TMP/bench.out" 2>"$TMP/bench.err"
  log "exit $?; $(grep -h '^graphs' "$TMP/bench.err" | tail -1)"
  grep -v '^\[dsa' "$TMP/bench.err" >>"$OUT/profile.log"
  grep -h '^{' "$TMP/bench.out" | tee -a "$OUT/bench.jsonl" >>"$OUT/profile.log"
  grep -v '^graphs\|^kernel profile\|^  ' "$TMP/bench.err" | tail -3 >>"$LOG"
}

# device_suite: the conformance kit, behaviour, GEMM and fixture checks -> $OUT/device-suite.{log,json}.
device_suite() {
  log "device suite"
  (cd "$HERE" && timeout 240 "$NODE" device-suite.mjs --json "$OUT/device-suite.json") >"$OUT/device-suite.log" 2>&1
  log "device suite exit $?: $(grep -o '"passed":[0-9]*,"failed":[0-9]*' "$OUT/device-suite.log" | tail -1)"
}
