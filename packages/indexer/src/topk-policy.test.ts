import { describe, expect, it } from 'vitest';
import { applyTopkPolicy, formatTopkPolicy, parseTopkPolicy } from './topk-policy.js';

describe('parseTopkPolicy', () => {
  it('parses the three kinds and round-trips them', () => {
    expect(parseTopkPolicy('fixed')).toEqual({ kind: 'fixed' });
    expect(parseTopkPolicy('mass:0.9')).toEqual({ kind: 'mass', p: 0.9 });
    expect(parseTopkPolicy('entropy:2')).toEqual({ kind: 'entropy', c: 2 });
    expect(formatTopkPolicy(parseTopkPolicy('mass:0.95'))).toBe('mass:0.95');
  });
  it('names the text and the expected forms when it is wrong', () => {
    for (const bad of ['mass', 'mass:0', 'mass:1.5', 'entropy:-1', 'fixed:1', 'top:3', 'mass:0.5:1']) {
      expect(() => parseTopkPolicy(bad)).toThrow(/expected "fixed", "mass:P"/);
    }
  });
});

describe('applyTopkPolicy', () => {
  // Two rows, k = 4. Row 0: positions 2,5,7,9 with probs .1,.6,.25,.05 (of all keys: sums to 1).
  // Row 1: only two valid candidates (3 and 8).
  const indices = () => Int32Array.from([2, 5, 7, 9, 3, 8, -1, -1]);
  const probs = Float32Array.from([0.1, 0.6, 0.25, 0.05, 0.3, 0.3, 0, 0]);

  it('fixed keeps everything', () => {
    const idx = indices();
    expect([...applyTopkPolicy({ kind: 'fixed' }, idx, probs, null, 2, 4)]).toEqual([4, 2]);
    expect([...idx]).toEqual([2, 5, 7, 9, 3, 8, -1, -1]);
  });

  it('mass keeps the smallest best-first prefix reaching p, ascending, -1 padded', () => {
    const idx = indices();
    // row 0: .6 (5) then .25 (7) reaches .85 >= .8; row 1: .3 (3, lower position first on the tie), .3 (8) = .6 < .8 -> all valid
    expect([...applyTopkPolicy({ kind: 'mass', p: 0.8 }, idx, probs, null, 2, 4)]).toEqual([2, 2]);
    expect([...idx]).toEqual([5, 7, -1, -1, 3, 8, -1, -1]);
    const one = indices();
    expect([...applyTopkPolicy({ kind: 'mass', p: 0.3 }, one, probs, null, 2, 4)]).toEqual([1, 1]);
    expect([...one]).toEqual([5, -1, -1, -1, 3, -1, -1, -1]);
  });

  it('entropy keeps ceil(c * exp(H)) capped at the valid count, at least one', () => {
    const idx = indices();
    const entropy = Float32Array.from([Math.log(1.5), Math.log(10)]);
    expect([...applyTopkPolicy({ kind: 'entropy', c: 1 }, idx, probs, entropy, 2, 4)]).toEqual([2, 2]);
    expect([...idx]).toEqual([5, 7, -1, -1, 3, 8, -1, -1]);
    const low = indices();
    expect([...applyTopkPolicy({ kind: 'entropy', c: 0.01 }, low, probs, entropy, 2, 4)]).toEqual([1, 1]);
  });
});
