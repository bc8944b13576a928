import { afterEach, describe, expect, it } from 'vitest';
import { backendPeakFlops, peakFlops } from './peak-flops.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('backendPeakFlops', () => {
  const compute = { isa: 'AVX-512', threads: 2 };

  it("takes the backend's measured FMA rate and says so", () => {
    delete process.env.DSA_BENCH_CPU_GHZ;
    delete process.env.DSA_BENCH_FMA_UNITS;
    const peak = backendPeakFlops({ compute, fmaPeak: () => 234.2 });
    expect(peak?.gflops).toBe(234.2);
    expect(peak?.formula).toMatch(/^measured: 2 threads/);
  });

  it('uses the formula when the environment asks for its factors, or the backend measures nothing', () => {
    process.env.DSA_BENCH_CPU_GHZ = '3';
    process.env.DSA_BENCH_FMA_UNITS = '1';
    expect(backendPeakFlops({ compute, fmaPeak: () => 234.2 })?.gflops).toBe(2 * 3 * 16 * 2 * 1);
    expect(backendPeakFlops({ compute })?.gflops).toBe(peakFlops('AVX-512', 2)?.gflops);
    expect(backendPeakFlops({})).toBeNull();
  });
});
