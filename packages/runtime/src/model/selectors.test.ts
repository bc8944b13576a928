import { describe, expect, it } from 'vitest';
import { controlSelection } from './selectors.js';

describe('controlSelection', () => {
  it('window: the last k positions, the query included; short rows get all, -1 padded', () => {
    const sel = controlSelection('window', Int32Array.from([1, 5]), 3, 0, 0);
    expect([...sel]).toEqual([0, 1, -1, 3, 4, 5]);
  });

  it('random: k distinct ascending positions within 0..p, reproducible, different between rows', () => {
    const positions = Int32Array.from([100, 100, 40]);
    const a = controlSelection('random', positions, 8, 7, 1);
    const b = controlSelection('random', positions, 8, 7, 1);
    expect([...a]).toEqual([...b]);
    // two sequences of a step at the same position draw different sets
    expect([...a.subarray(0, 8)]).not.toEqual([...a.subarray(8, 16)]);
    for (let r = 0; r < 3; r++) {
      const row = [...a.subarray(r * 8, r * 8 + 8)];
      expect(new Set(row).size).toBe(8);
      expect(row).toEqual([...row].sort((x, y) => x - y));
      expect(Math.min(...row)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...row)).toBeLessThanOrEqual(positions[r]!);
    }
    expect([...controlSelection('random', positions, 8, 8, 1)]).not.toEqual([...a]);
  });

  it('random is close to uniform over the visible positions', () => {
    const counts = new Array(20).fill(0);
    // vary the layer so the draws differ
    for (let layer = 0; layer < 50; layer++) {
      const sel = controlSelection('random', Int32Array.from([19]), 5, 3, layer);
      for (const t of sel) counts[t]++;
    }
    // 50 draws of 5 of 20: each position expected 12.5 times
    for (const c of counts) expect(c).toBeGreaterThan(2);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(250);
  });
});
