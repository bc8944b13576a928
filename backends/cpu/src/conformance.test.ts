import { rngUniform } from '@dsa/backend';
import { checkConformance, primitiveCases } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import { runnableIsas } from './cpu-settings.js';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;
const addon = native.addon;
const ISAS = runnableIsas(addon.info().isa);

// Every primitive case of the kit against the reference backend, once per kernel set this CPU runs.
for (const isa of ISAS) {
  describe(`conformance kit on the cpu backend (${isa})`, () => {
    const candidate = new CpuBackend(addon, { threads: 2, settings: { isa } });
    const oracle = new ReferenceBackend();
    for (const testCase of primitiveCases()) {
      it(`${testCase.kernel}: ${testCase.name}`, async () => {
        const result = await checkConformance(testCase, candidate, oracle);
        expect(result.error).toBeLessThanOrEqual(result.tolerance);
        expect(result.passed).toBe(true);
      });
    }
  });
}

describe('sampling arithmetic agrees with V8 bit for bit', () => {
  // The values sample() feeds log (uniforms), and exp (logits minus their max), with edge cases first.
  const mathCases = [
    { name: 'log', math: Math.log, edges: [1, 2 ** -30, 0.5], value: (i: number) => rngUniform(7, 1, i) },
    {
      name: 'exp',
      math: Math.exp,
      edges: [1, 0, -745.2],
      value: (i: number) => -60 * rngUniform(3, 2, i) + (i % 5 === 0 ? 1 : 0),
    },
  ] as const;
  for (const { name, math, edges, value } of mathCases) {
    it(`fdlibm ${name} matches Math.${name}`, () => {
      const input = Float64Array.from({ length: 200_000 }, (_, i) => value(i));
      input.set(edges);
      const output = new Float64Array(input.length);
      addon.debugMath(name, input, output);
      let mismatches = 0;
      for (let i = 0; i < input.length; i++) if (output[i] !== math(input[i]!)) mismatches++;
      expect(mismatches).toBe(0);
    });
  }

  it('rngUniform matches @dsa/backend', () => {
    const seeds = new Float64Array(10_000);
    for (let i = 0; i < seeds.length; i++) seeds[i] = (i * 2654435761) >>> 0;
    const output = new Float64Array(seeds.length);
    addon.debugMath('rng', seeds, output);
    for (let i = 0; i < seeds.length; i++) expect(output[i]).toBe(rngUniform(seeds[i]!, i % 7, i));
  });
});
