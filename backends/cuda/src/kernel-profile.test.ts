import { describe, expect, it } from 'vitest';
import type { CudaDriver } from './cuda-driver.js';
import { KernelProfile } from './kernel-profile.js';

/** A driver whose events record a clock that each "launch" advances by its duration. */
function fakeDriver() {
  let clock = 0;
  let nextEvent = 1n;
  const recorded = new Map<bigint, number>();
  const created: bigint[] = [];
  const destroyed: bigint[] = [];
  const driver = {
    has: (name: string) => name === 'cuEventElapsedTime_v2',
    call(name: string, ...args: unknown[]) {
      if (name === 'cuEventCreate') {
        (args[0] as BigUint64Array)[0] = nextEvent;
        created.push(nextEvent++);
      } else if (name === 'cuEventRecord') recorded.set(args[0] as bigint, clock);
      else if (name === 'cuEventElapsedTime_v2')
        (args[0] as Float32Array)[0] = recorded.get(args[2] as bigint)! - recorded.get(args[1] as bigint)!;
    },
    raw(name: string, ...args: unknown[]) {
      if (name === 'cuEventDestroy_v2') destroyed.push(args[0] as bigint);
      return 0;
    },
  };
  return { driver: driver as unknown as CudaDriver, run: (ms: number) => (clock += ms), created, destroyed };
}

describe('KernelProfile', () => {
  it('sums the event time of each name, slowest first, and starts over on reset', () => {
    const fake = fakeDriver();
    const profile = new KernelProfile(fake.driver);
    for (const [name, ms] of [
      ['gemv', 2],
      ['norm', 0.5],
      ['gemv', 3],
      ['graph', 10],
    ] as const)
      profile.time(name, 0n, () => fake.run(ms));
    expect(profile.read()).toEqual([
      { name: 'graph', count: 1, ms: 10 },
      { name: 'gemv', count: 2, ms: 5 },
      { name: 'norm', count: 1, ms: 0.5 },
    ]);
    profile.reset();
    profile.time('norm', 0n, () => fake.run(1));
    expect(profile.read()).toEqual([{ name: 'norm', count: 1, ms: 1 }]);
  });

  it('reuses its events once resolved and destroys them on dispose', () => {
    const fake = fakeDriver();
    const profile = new KernelProfile(fake.driver);
    for (let i = 0; i < 5000; i++) profile.time('k', 0n, () => fake.run(1));
    expect(profile.read()).toEqual([{ name: 'k', count: 5000, ms: 5000 }]);
    // pending pairs are resolved every 2048 launches: at most 2 · 2048 events ever exist
    expect(fake.created.length).toBeLessThanOrEqual(2 * 2048);
    profile.dispose();
    expect([...fake.destroyed].sort()).toEqual([...fake.created].sort());
  });

  it('takes its lead in milliseconds (the setting profileLeadMs); none by default', () => {
    expect(new KernelProfile(fakeDriver().driver, 2.5).leadNs).toBe(2_500_000n);
    expect(new KernelProfile(fakeDriver().driver).leadNs).toBe(0n);
  });
});
