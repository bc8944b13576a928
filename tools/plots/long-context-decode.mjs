// Draws docs/long-context-decode.svg, the README's plot: the H200 long-context decode measurements of
// docs/benchmarks.md ("Long context, v32-dims fp8"), with the CLI's SVG line-chart module.
// Usage (after `pnpm build`): node tools/plots/long-context-decode.mjs
import fs from 'node:fs';
import path from 'node:path';
import { renderLineChart } from '../../apps/cli/dist/plot/index.js';

/** ms per decode step by depth, from the table in docs/benchmarks.md. */
const MEASURED = {
  'cuda · sparse · fp8 · batch 1': [
    [8192, 1.79],
    [32768, 2.01],
    [65536, 1.91],
    [131072, 2.34],
  ],
  'cuda · dense · fp8 · batch 1': [
    [8192, 2.06],
    [32768, 3.36],
    [65536, 4.95],
    [131072, 8.23],
  ],
  'cuda · sparse · fp8 · batch 16': [
    [32768, 11.82],
    [131072, 14.85],
  ],
  'cuda · dense · fp8 · batch 16': [
    [32768, 33.5],
    [131072, 104.61],
  ],
};

const svg = renderLineChart({
  title: 'Decode step at depth, v32-dims fp8 on one H200 (docs/benchmarks.md)',
  xLabel: 'cache depth (tokens)',
  yLabel: 'ms per decode step',
  logX: true,
  logY: true,
  series: Object.entries(MEASURED).map(([name, points]) => ({ name, points })),
});
const out = path.resolve(import.meta.dirname, '../../docs/long-context-decode.svg');
fs.writeFileSync(out, svg);
console.log(`wrote ${out}`);
