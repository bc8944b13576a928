import { describe, expect, it } from 'vitest';
import { type BenchPlotRow, benchPlot } from './bench-plot.js';

const row = (over: Partial<BenchPlotRow>): BenchPlotRow => ({
  backend: 'cpu',
  attention: 'sparse',
  dtype: 'bf16',
  indexer: 'fp32',
  batch: 1,
  depth: 1024,
  preset: 'small',
  tg_ms_median: 10,
  pp_tok_s: 500,
  fill_tok_s: null,
  ...over,
});

describe('benchPlot', () => {
  const rows = [
    row({ depth: 1024, tg_ms_median: 10, pp_tok_s: 500 }),
    row({ depth: 16384, tg_ms_median: 12, pp_tok_s: 480 }),
    row({ attention: 'dense', depth: 1024, tg_ms_median: 11, pp_tok_s: 450 }),
    row({ attention: 'dense', depth: 16384, tg_ms_median: 40, pp_tok_s: 300 }),
  ];
  const svg = benchPlot(rows);

  it('draws decode and prefill panels with one line per backend · attention · dtype', () => {
    expect(svg).toContain('>dsa bench: small</text>');
    expect(svg).toContain('>Decode</text>');
    expect(svg).toContain('>Prefill</text>');
    expect(svg).toContain('>prefill tokens/s (fresh prompt)</text>');
    // Two series in each of the two panels.
    expect(svg.match(/<g class="series" data-name="cpu · sparse · bf16">/g)).toHaveLength(2);
    expect(svg.match(/<g class="series" data-name="cpu · dense · bf16">/g)).toHaveLength(2);
  });

  it('plots the measured values against depth on a log axis', () => {
    expect(svg).toMatch(/data-x="16384" data-y="40"/);
    expect(svg).toMatch(/data-x="16384" data-y="300"/);
    expect(svg).toContain('>16,384</text>');
  });

  it('names the batch size in the series when several were measured, and prefers the fill rate', () => {
    const two = benchPlot([
      row({ batch: 1, fill_tok_s: 900 }),
      row({ batch: 8, fill_tok_s: 2000 }),
      row({ batch: 8, depth: 2048, fill_tok_s: 1800 }),
    ]);
    expect(two).toContain('data-name="cpu · sparse · bf16 · batch 8"');
    expect(two).toContain('>prefill tokens/s (filling to depth)</text>');
    expect(two).toMatch(/data-x="2048" data-y="1800"/);
  });
});
