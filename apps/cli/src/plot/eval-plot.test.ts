import { describe, expect, it } from 'vitest';
import type { EvalRow } from '../eval/eval-settings.js';
import { evalPlot } from './eval-plot.js';

const row = (over: Partial<EvalRow>): EvalRow => ({
  task: 'recall',
  attention: 'sparse',
  selector: 'indexer',
  topk: 32,
  topk_policy: 'fixed',
  context: 512,
  metric: 'accuracy',
  value: 0.9,
  indexer_recall: 0.8,
  attended_tokens_mean: 32,
  n: 400,
  ...over,
});

describe('evalPlot', () => {
  it('against top-k when several: a line per selector and policy, dense flat', () => {
    const svg = evalPlot([
      row({
        attention: 'dense',
        selector: null,
        topk: null,
        topk_policy: null,
        value: 0.97,
        attended_tokens_mean: 300,
      }),
      row({ topk: 16, value: 0.7 }),
      row({ topk: 32, value: 0.95 }),
      row({ selector: 'window', topk: 16, value: 0.1 }),
      row({ selector: 'window', topk: 32, value: 0.12 }),
    ]);
    expect(svg.startsWith('<svg') || svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('index top-k (positions selected per query)');
    for (const name of ['dense', 'indexer · fixed', 'window · fixed']) expect(svg).toContain(name);
    expect(svg).not.toContain('context length');
  });

  it('against context length when one top-k', () => {
    const svg = evalPlot([row({ context: 512 }), row({ context: 4096, value: 0.5 })]);
    expect(svg).toContain('context length (tokens)');
  });
});
