// Margins of the lightning indexer's top-k selection: for each query position and layer, the gap between the
// k-th and (k+1)-th best index score, recomputed in float64 on the host from our engine's residual stream and
// the checkpoint's weights. A selection whose gap is below float32 rounding of the scores is a near-tie: two
// correct f32 engines (ours and llama.cpp) may keep different tokens there, and every later position then
// sees a slightly different cache. Used to explain where tools/peers/llama-cpp.mjs finds the engines apart.
//
// Usage (after `pnpm build`; the ids are the ones llama-cpp.mjs feeds for the same --positions and --seed):
//   node tools/peers/indexer-margins.mjs --model /tmp/small --positions 2048 --queries 256:2048 --show 12
// On held-out text: the ids llama-cpp.mjs --text wrote (--out DIR/ids.json, one array per window) and the
// positions where top-1 differed (DIR/disagreements.json); --at reports, for each of those positions, the
// smallest relative gap at it and at any earlier position of its window (a selection differing anywhere
// before changes the cache every later position reads):
//   node tools/peers/indexer-margins.mjs --model packages/demo-model --ids DIR/ids.json --window 0 \
//     --at DIR/disagreements.json
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../../packages/backend/dist/index.js';
import { Checkpoint, DeepseekModel, ropeFrequencies } from '../../packages/runtime/dist/index.js';
import { decodeBf16, FP8_E4M3_TABLE } from '../../packages/tensor/dist/index.js';
import { randomIds } from './random-ids.mjs';

const { values: flags } = parseArgs({
  options: {
    model: { type: 'string' },
    positions: { type: 'string', default: '512' },
    seed: { type: 'string', default: '1' },
    queries: { type: 'string' },
    show: { type: 'string', default: '12' },
    backend: { type: 'string', default: 'cpu' },
    ids: { type: 'string' },
    window: { type: 'string', default: '0' },
    at: { type: 'string' },
  },
});
if (!flags.model) {
  process.stderr.write(
    'usage: node tools/peers/indexer-margins.mjs --model DIR [--positions N] [--queries FROM:TO]\n',
  );
  process.exit(2);
}
const log = (line) => process.stderr.write(`${line}\n`);

const window = Number(flags.window);
const givenIds = flags.ids ? JSON.parse(fs.readFileSync(flags.ids, 'utf8'))[window] : undefined;
const positions = givenIds ? givenIds.length : Number(flags.positions);
const backend = await createBackend({ backend: flags.backend });
const model = await DeepseekModel.load(backend, flags.model, { cacheTokens: positions + 64 });
const config = model.config;
if (!config.indexer) throw new Error(`${flags.model} has no indexer`);
const ids = givenIds ?? randomIds(positions, Math.min(config.vocabSize, 1000), Number(flags.seed));
const sequence = model.cache.createSequence();
const { hidden } = await model.forward([{ sequence, tokens: ids }], { captureHidden: true });
model.cache.release(sequence);
model.dispose();
backend.dispose();

const checkpoint = await Checkpoint.open(flags.model);
async function weight(name) {
  const info = checkpoint.info(name);
  const bytes = await checkpoint.read(name);
  if (info.dtype === 'f32') return new Float32Array(bytes.buffer);
  if (info.dtype === 'bf16') {
    const out = new Float32Array(bytes.byteLength / 2);
    decodeBf16(new Uint16Array(bytes.buffer), out);
    return out;
  }
  if (info.dtype === 'f8_e4m3') {
    const scale = new Float32Array(
      (await checkpoint.read(name.replace(/weight$/, 'weight_scale_inv'))).buffer,
    );
    const [rows, cols] = info.shape;
    const [br, bc] = config.quantization?.blockSize ?? [128, 128];
    const out = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++)
        out[r * cols + c] =
          FP8_E4M3_TABLE[bytes[r * cols + c]] *
          scale[Math.floor(r / br) * Math.ceil(cols / bc) + Math.floor(c / bc)];
    return out;
  }
  throw new Error(`${name}: dtype ${info.dtype}`);
}

/** y [n, out] = x [n, in] · W^T, W [out, in], in float64. */
function linear(x, n, w, out, inner) {
  const y = new Float64Array(n * out);
  for (let s = 0; s < n; s++) {
    for (let o = 0; o < out; o++) {
      let sum = 0;
      for (let i = 0; i < inner; i++) sum += x[s * inner + i] * w[o * inner + i];
      y[s * out + o] = sum;
    }
  }
  return y;
}

function rmsNorm(x, n, width, w, eps) {
  const y = new Float64Array(n * width);
  for (let s = 0; s < n; s++) {
    let ms = 0;
    for (let i = 0; i < width; i++) ms += x[s * width + i] ** 2;
    const r = 1 / Math.sqrt(ms / width + eps);
    for (let i = 0; i < width; i++) y[s * width + i] = x[s * width + i] * r * w[i];
  }
  return y;
}

/** Half-split RoPE on the first `r` dims of each `width`-wide head. */
function rope(x, n, heads, width, r, invFreq, scale) {
  const half = r / 2;
  for (let s = 0; s < n; s++)
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(s) * invFreq[i];
      const cos = Math.cos(Math.fround(angle)) * scale;
      const sin = Math.sin(Math.fround(angle)) * scale;
      for (let h = 0; h < heads; h++) {
        const base = (s * heads + h) * width;
        const [a, b] = [x[base + i], x[base + i + half]];
        x[base + i] = a * cos - b * sin;
        x[base + i + half] = b * cos + a * sin;
      }
    }
}

const { indexNHeads: hi, indexHeadDim: di, indexTopk: k } = config.indexer;
const d = config.dim;
const r = config.qkRopeHeadDim;
const { invFreq, attentionFactor } = ropeFrequencies(config.rope, r);
const [from, to] = (flags.queries ?? `${k}:${positions}`).split(':').map(Number);
const rows = [];
for (let layer = 0; layer < config.nLayers; layer++) {
  const p = `model.layers.${layer}.`;
  const a = `${p}self_attn.`;
  const h = hidden.subarray(layer * positions * d, (layer + 1) * positions * d);
  const x = rmsNorm(h, positions, d, await weight(`${p}input_layernorm.weight`), config.normEps);
  const key = linear(x, positions, await weight(`${a}indexer.wk.weight`), di, d);
  const kw = await weight(`${a}indexer.k_norm.weight`);
  const kb = await weight(`${a}indexer.k_norm.bias`);
  for (let s = 0; s < positions; s++) {
    const row = key.subarray(s * di, (s + 1) * di);
    const mean = row.reduce((u, v) => u + v, 0) / di;
    const variance = row.reduce((u, v) => u + (v - mean) ** 2, 0) / di;
    for (let i = 0; i < di; i++) row[i] = ((row[i] - mean) / Math.sqrt(variance + 1e-6)) * kw[i] + kb[i];
  }
  rope(key, positions, 1, di, r, invFreq, attentionFactor);
  const q = config.qLoraRank;
  const queries = to - from;
  const xq = x.subarray(from * d, to * d);
  const qa = linear(xq, queries, await weight(`${a}q_a_proj.weight`), q, d);
  const qr = rmsNorm(qa, queries, q, await weight(`${a}q_a_layernorm.weight`), config.normEps);
  const qi = linear(qr, queries, await weight(`${a}indexer.wq_b.weight`), hi * di, q);
  // RoPE needs absolute positions: rotate each query row at its own position.
  for (let s = 0; s < queries; s++) {
    const one = qi.subarray(s * hi * di, (s + 1) * hi * di);
    const half = r / 2;
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(Math.fround(from + s) * invFreq[i]);
      const cos = Math.cos(angle) * attentionFactor;
      const sin = Math.sin(angle) * attentionFactor;
      for (let head = 0; head < hi; head++) {
        const base = head * di;
        const [u, v] = [one[base + i], one[base + i + half]];
        one[base + i] = u * cos - v * sin;
        one[base + i + half] = v * cos + u * sin;
      }
    }
  }
  const w = linear(xq, queries, await weight(`${a}indexer.weights_proj.weight`), hi, d);
  const scale = hi ** -0.5 * di ** -0.5;
  for (let s = 0; s < queries; s++) {
    const pos = from + s;
    if (pos + 1 <= k) continue; // every causal position selected
    const scores = new Float64Array(pos + 1);
    let magnitude = 0;
    for (let t = 0; t <= pos; t++) {
      let score = 0;
      for (let head = 0; head < hi; head++) {
        let dot = 0;
        for (let i = 0; i < di; i++) dot += qi[(s * hi + head) * di + i] * key[t * di + i];
        score += w[s * hi + head] * scale * Math.max(0, dot);
        magnitude += Math.abs(w[s * hi + head] * scale * dot);
      }
      scores[t] = score;
    }
    const sorted = [...scores].sort((u, v) => v - u);
    const gap = sorted[k - 1] - sorted[k];
    rows.push({
      position: pos,
      layer,
      kth: sorted[k - 1],
      tied: sorted.filter((v) => v === sorted[k - 1]).length,
      gap,
      relative: gap / Math.max(1e-30, Math.abs(sorted[k - 1])),
      magnitude: magnitude / (pos + 1),
    });
  }
  log(`layer ${layer}: ${rows.filter((row) => row.layer === layer).length} queries`);
}
await checkpoint.close();

const byGap = [...rows].sort((u, v) => u.relative - v.relative);
const median = (xs) => [...xs].sort((u, v) => u - v)[Math.floor(xs.length / 2)];
log(
  `median relative gap (k-th vs k+1-th score) over ${rows.length} (query, layer) pairs: ${median(rows.map((row) => row.relative)).toExponential(2)}`,
);
// An exact tie at the boundary (gap 0): which of the tied positions a top-k keeps is the engine's choice.
const exactTies = rows.filter((row) => row.gap === 0);
const zeroTies = exactTies.filter((row) => row.kth === 0);
log(
  `exact ties at the k-th score: ${exactTies.length} of ${rows.length} (query, layer) pairs (${zeroTies.length} at score 0: fewer than k positions with a positive score); first at position ${exactTies.length > 0 ? Math.min(...exactTies.map((row) => row.position)) : '-'}`,
);
log('smallest gaps (a relative gap near 1e-7 is within f32 rounding of the score sums):');
for (const row of byGap.slice(0, Number(flags.show))) {
  log(
    `  position ${String(row.position).padStart(5)} layer ${row.layer}: gap ${row.gap.toExponential(2)} (relative ${row.relative.toExponential(2)}), k-th score ${row.kth.toExponential(3)} shared by ${row.tied} positions`,
  );
}
const firstPerPosition = new Map();
for (const row of rows) {
  const current = firstPerPosition.get(row.position);
  if (current === undefined || row.relative < current.relative) firstPerPosition.set(row.position, row);
}
/** For each --at position: the smallest relative gap at it and at any earlier position (both over layers). */
const at = !flags.at
  ? []
  : (fs.existsSync(flags.at)
      ? JSON.parse(fs.readFileSync(flags.at, 'utf8'))
          .filter((d) => d.sequence === window)
          .map((d) => d.position)
      : flags.at.split(',').map(Number)
    ).map((position) => {
      const here = rows.filter((row) => row.position === position);
      const before = rows.filter((row) => row.position <= position);
      const smallest = (list) =>
        list.reduce((m, row) => (m === null || row.relative < m.relative ? row : m), null);
      const [h, b] = [smallest(here), smallest(before)];
      return {
        position,
        exact_ties_up_to_here: before.filter((row) => row.gap === 0).length,
        here: h && { layer: h.layer, relative: h.relative, tied: h.tied },
        up_to_here: b && { position: b.position, layer: b.layer, relative: b.relative, tied: b.tied },
      };
    });
for (const a of at) {
  log(
    `  position ${a.position}: smallest relative gap here ${a.here ? `${a.here.relative.toExponential(2)} (layer ${a.here.layer})` : '- (dense)'}, up to here ${a.up_to_here ? `${a.up_to_here.relative.toExponential(2)} (position ${a.up_to_here.position}, layer ${a.up_to_here.layer})` : '-'}, exact ties up to here ${a.exact_ties_up_to_here}`,
  );
}
process.stdout.write(
  `${JSON.stringify({
    at,
    model: path.basename(path.resolve(flags.model)),
    positions,
    queries: `${from}-${to - 1}`,
    median_relative_gap: median(rows.map((row) => row.relative)),
    exact_ties: exactTies.length,
    exact_ties_at_zero: zeroTies.length,
    pairs: rows.length,
    first_exact_tie: exactTies.length > 0 ? Math.min(...exactTies.map((row) => row.position)) : null,
    exact_ties_per_layer: Array.from(
      { length: config.nLayers },
      (_, layer) => exactTies.filter((row) => row.layer === layer).length,
    ),
    smallest: byGap.slice(0, Number(flags.show)),
    near_ties_below_1e_6: [...firstPerPosition.values()]
      .filter((row) => row.relative < 1e-6)
      .map((row) => [row.position, row.layer]),
  })}\n`,
);
