#!/usr/bin/env node
// Learning curves of a trainer log (tools/train/*.py write log.jsonl) as an SVG with the CLI's plot module:
//   node tools/train/plot-log.mjs RUN/log.jsonl OUT.svg
// Left: the training batch's answer accuracy and the held-out dense/sparse accuracy (at each phase's L, P = 12);
// right: the indexer's selection recall of the dense attention mass and the indexer KL, against the global step.
import fs from 'node:fs';
import { renderTwoPanels } from '../../apps/cli/dist/plot/index.js';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node tools/train/plot-log.mjs LOG.jsonl OUT.svg');
  process.exit(2);
}
const records = fs
  .readFileSync(input, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l))
  .filter((r) => r.phase && r.step);
// One global step axis over the phases in the order they ran (a resumed phase keeps its own steps).
const offsets = new Map();
let total = 0;
let last = null;
const points = { acc: [], dense: [], sparse: [], recall: [], kl: [] };
for (const r of records) {
  if (r.phase !== last) {
    if (!offsets.has(r.phase)) offsets.set(r.phase, total);
    last = r.phase;
  }
  const x = offsets.get(r.phase) + r.step;
  total = Math.max(total, x);
  if (r.acc !== undefined) points.acc.push([x, r.acc]);
  if (r.kl !== undefined) points.kl.push([x, Math.min(r.kl, 3)]);
  if (r.eval) {
    points.dense.push([x, r.eval.dense]);
    points.sparse.push([x, r.eval.sparse]);
    if (r.eval.indexer_recall !== undefined) points.recall.push([x, r.eval.indexer_recall]);
  }
}
const dedupe = (p) => [...new Map(p.map(([x, y]) => [x, y])).entries()].sort((a, b) => a[0] - b[0]);
const phases = [...offsets.keys()].join(' → ');
/** A panel over all phases; `series` as [legend, key of `points`]. */
const panel = (title, yLabel, series) => ({
  title,
  xLabel: 'step (all phases)',
  yLabel,
  series: series.map(([name, key]) => ({ name, points: dedupe(points[key]) })),
});
const svg = renderTwoPanels(
  `training: ${phases}`,
  panel('Answer accuracy', 'accuracy', [
    ['training batch', 'acc'],
    ['held-out dense', 'dense'],
    ['held-out sparse (top-k)', 'sparse'],
  ]),
  panel('Indexer', 'recall of the dense attention mass / KL (capped at 3)', [
    ['selection recall (held-out)', 'recall'],
    ['KL(p ‖ softmax(I)) (B, C)', 'kl'],
  ]),
);
fs.writeFileSync(output, svg);
console.error(`wrote ${output}: ${records.length} records, ${offsets.size} phases`);
