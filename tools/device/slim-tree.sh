#!/usr/bin/env bash
# Keeps the trained demo model's weights and goldens (45 MB, tracked) off a device call, so that the tree plus a
# carried `.device` bundle (35 MiB) fit the 64 MiB a call may send. `on`: untracks them in the index only and lists
# them in .git/info/exclude (the files stay on disk); `off`: tracks them again. Never commit while it is on
# (`status` says which); the device suite and benches read none of these files.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
paths=(packages/demo-model/model-0000{1,2,3}-of-00003.safetensors fixtures/demo-model/golden.safetensors
  fixtures/demo-model/golden-chat.safetensors)
exclude=.git/info/exclude
marker='# slim-tree.sh'
case "${1:-status}" in
  on)
    git rm -q --cached -- "${paths[@]}"
    { echo "$marker begin"; for p in "${paths[@]}"; do echo "/$p"; done; echo "$marker end"; } >>"$exclude"
    echo "slim: ${#paths[@]} files untracked for the device call; run 'off' after it" ;;
  off)
    sed -i "/^$marker begin\$/,/^$marker end\$/d" "$exclude"
    git add -- "${paths[@]}"
    echo "slim: off" ;;
  status)
    if grep -q "$marker" "$exclude" 2>/dev/null; then echo on; else echo off; fi ;;
  *) echo "usage: $0 on|off|status" >&2; exit 2 ;;
esac
