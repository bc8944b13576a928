import { describe, expect, it } from 'vitest';
import { PROBE_BYTES, turnProbeBytes, turnRoofline } from './probes.js';

describe('turnProbeBytes', () => {
  it('reads 4 × the last-level cache, at least 256 MiB, and 1 GiB where the cache is unknown', () => {
    expect(turnProbeBytes(32 * 2 ** 20)).toBe(256 * 2 ** 20); // a 32 MiB L3: 128 MiB would do, 256 the floor
    expect(turnProbeBytes(260 * 2 ** 20)).toBe(1040 * 2 ** 20); // the Xeon VM's 260 MiB
    expect(turnProbeBytes(null)).toBe(PROBE_BYTES);
  });
});

describe('turnRoofline', () => {
  it("divides each turn's median step by the mean of the probes either side, then takes the median", () => {
    // Three turns of 3 steps (ms); probes (GB/s) before turn 0, between them, and after turn 2.
    const times = [10, 11, 30, 20, 20, 21, 12, 10, 10];
    const turns = [
      { from: 0, to: 3 },
      { from: 3, to: 6 },
      { from: 6, to: 9 },
    ];
    const probes = [40, 20, 30, 50];
    const bytes = 1e8; // per step
    // Turn medians 11, 20, 10 ms against 30, 25, 40 GB/s: fractions 0.303, 0.2, 0.25.
    const r = turnRoofline(times, turns, probes, bytes);
    expect(r.fraction).toBeCloseTo(bytes / 0.01 / 40e9, 12);
    expect(r.gbs).toBe(30);
    expect(r.min).toBe(20);
    expect(r.max).toBe(50);
    // One probe for the whole run (every probe alike): the plain ratio of the median turn.
    const flat = turnRoofline(times, turns, [25, 25, 25, 25], bytes);
    expect(flat.fraction).toBeCloseTo(bytes / 0.011 / 25e9, 12);
    expect([flat.gbs, flat.min, flat.max]).toEqual([25, 25, 25]);
  });
});
