// The fixtures (tiny and tiny-fp8) end to end on the ascend backend bound to the CANN emulator,
// held to the same bar as tests/golden.test.ts holds the reference and cpu backends: logits and
// hidden states within golden.json's max-abs tolerances, identical top-k selections, identical
// greedy tokens.
import path from 'node:path';
import { DeepseekModel, SafetensorsFile } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';
import { describeFixture, FIXTURES } from '../../../tests/fixture-suite.js';
import { argmax, maxAbsDiff, readF32, readI32 } from '../../../tests/golden-helpers.js';
import { buildEmulator } from '../emulator/build-emulator.js';
import ascendBackendFactory, { type AscendBackendSettings } from './index.js';

// On an NPU host, DSA_ASCEND_HARDWARE=1 keeps the normal CANN lookup instead of the emulator.
if (process.env.DSA_ASCEND_HARDWARE !== '1') process.env.DSA_ASCEND_LIB_DIR = buildEmulator();

// 'exact' precision (f32 activations, bf16-stored weights), with the composite MoE and with the fused
// moeRoute / moeExperts (aclnnMoeGatingTopK, aclnnMoeInitRoutingV2 + aclnnGroupedMatmulV4).
const MODES: { label: string; settings: AscendBackendSettings }[] = [
  { label: 'exact', settings: { precision: 'exact' } },
  { label: 'exact, fused MoE', settings: { precision: 'exact', fusedOperators: ['moeRoute', 'moeExperts'] } },
];

for (const fixture of ['tiny', 'tiny-fp8'])
  for (const mode of MODES)
    describeFixture(fixture, {
      label: `ascend (CANN emulator, ${mode.label})`,
      create: async () => {
        const probe = await ascendBackendFactory.probe();
        if (probe.score <= 0) throw new Error(`ascend backend cannot run: ${probe.reason}`);
        return ascendBackendFactory.create({ settings: { log: () => {}, ...mode.settings } });
      },
      onCreate: (backend) => {
        if (mode.settings.fusedOperators)
          expect([...backend.capabilities.fused].sort()).toEqual(['moeExperts', 'moeRoute']);
      },
    });

// 'bf16' precision (the default: bf16 activations on the bf16 cube units, fused MoE on) is not
// exact. Where no discrete choice can flip (7 tokens: the indexer keeps every position) the
// teacher-forced logits stay within BF16_LOGITS_MAX_ABS; on longer prompts bf16 rounding flips
// near-tied expert and indexer selections at some positions (a jump of O(1) there), so the bar is the
// median position's error and next-token agreement with the float64 reference.
const BF16_LOGITS_MAX_ABS = 5e-2;
const BF16_BARS = [
  { length: 7, maxAbs: BF16_LOGITS_MAX_ABS, medianAbs: BF16_LOGITS_MAX_ABS, agree: 1 },
  { length: 48, maxAbs: Number.POSITIVE_INFINITY, medianAbs: BF16_LOGITS_MAX_ABS, agree: 0.9 },
  { length: 130, maxAbs: Number.POSITIVE_INFINITY, medianAbs: 0.3, agree: 0.75 },
];
for (const fixture of ['tiny', 'tiny-fp8'])
  describe(`fixture ${fixture} on the ascend backend (CANN emulator, bf16 precision)`, async () => {
    const dir = path.join(FIXTURES, fixture);
    const reference = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
    const backend = await ascendBackendFactory.create({
      settings: { log: () => {}, fusedOperators: ['moeRoute', 'moeExperts'] },
    });
    const model = await DeepseekModel.load(backend, dir, { cacheTokens: 512 });
    const { vocabSize } = model.config;

    for (const bar of BF16_BARS) {
      it(`prompt of ${bar.length} tokens: teacher-forced logits (max ${bar.maxAbs}, median ${bar.medianAbs}, argmax ${bar.agree})`, async () => {
        const length = bar.length;
        const ids = await readI32(reference, `prompt${length}.input_ids`);
        const sequence = model.cache.createSequence();
        const result = await model.forward([{ sequence, tokens: ids }], { logits: 'all' });
        model.cache.release(sequence);
        const logits = new Float32Array(length * vocabSize);
        await backend.download(result.logits, logits);
        await backend.synchronize();
        const want = await readF32(reference, `prompt${length}.logits`);
        const errors: number[] = [];
        let agree = 0;
        for (let p = 0; p < length; p++) {
          const ours = logits.subarray(p * vocabSize, (p + 1) * vocabSize);
          const theirs = want.subarray(p * vocabSize, (p + 1) * vocabSize);
          errors.push(maxAbsDiff(ours, theirs));
          if (argmax(ours) === argmax(theirs)) agree++;
        }
        const max = Math.max(...errors);
        const median = errors.sort((x, y) => x - y)[length >> 1]!;
        console.log(
          `ascend ${fixture} (bf16) prompt${length}: logits max abs ${max.toExponential(3)}, median ${median.toExponential(3)}, argmax agrees at ${agree}/${length}`,
        );
        expect(max).toBeLessThanOrEqual(bar.maxAbs);
        expect(median).toBeLessThanOrEqual(bar.medianAbs);
        expect(agree / length).toBeGreaterThanOrEqual(bar.agree);
      });
    }
  });
