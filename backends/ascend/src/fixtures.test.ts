// The fixtures (tiny and tiny-fp8) end to end on the ascend backend bound to the CANN emulator,
// held to the same bar as tests/golden.test.ts holds the reference and cpu backends: logits and
// hidden states within golden.json's max-abs tolerances, identical top-k selections, identical
// greedy tokens.
import fs from 'node:fs';
import path from 'node:path';
import { DeepseekModel, generate, SafetensorsFile } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';
import { buildEmulator } from './build-emulator.js';
import ascendBackendFactory, { type AscendBackendSettings } from './index.js';

// On an NPU host, DSA_ASCEND_HARDWARE=1 keeps the normal CANN lookup instead of the emulator.
if (process.env.DSA_ASCEND_HARDWARE !== '1') process.env.DSA_ASCEND_LIB_DIR = buildEmulator();
const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures');

interface Golden {
  decode: { prefill: number; steps: number; greedy_tokens: number[] };
  tolerance: { logits_max_abs: number; hidden_max_abs: number };
}

async function readF32(file: SafetensorsFile, name: string): Promise<Float32Array> {
  const bytes = await file.read(name);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

async function readI32(file: SafetensorsFile, name: string): Promise<Int32Array> {
  const bytes = await file.read(name);
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

// 'exact' precision (f32 activations, bf16-stored weights), with the composite MoE and with the fused
// moeRoute / moeExperts (aclnnMoeGatingTopK, aclnnMoeInitRoutingV2 + aclnnGroupedMatmulV4).
const MODES: { label: string; settings: AscendBackendSettings }[] = [
  { label: 'exact', settings: { precision: 'exact' } },
  { label: 'exact, fused MoE', settings: { precision: 'exact', fusedOperators: ['moeRoute', 'moeExperts'] } },
];

for (const fixture of ['tiny', 'tiny-fp8'])
  for (const mode of MODES)
    describe(`fixture ${fixture} on the ascend backend (CANN emulator, ${mode.label})`, async () => {
      const dir = path.join(FIXTURES, fixture);
      const golden = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')) as Golden;
      const reference = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
      const probe = await ascendBackendFactory.probe();
      if (probe.score <= 0) throw new Error(`ascend backend cannot run: ${probe.reason}`);
      const backend = await ascendBackendFactory.create({ settings: { log: () => {}, ...mode.settings } });
      if (mode.settings.fusedOperators)
        expect([...backend.capabilities.fused].sort()).toEqual(['moeExperts', 'moeRoute']);
      const model = await DeepseekModel.load(backend, dir, { cacheTokens: 512 });
      const { vocabSize, nLayers } = model.config;
      const topk = model.config.indexer!.indexTopk;

      for (const length of [7, 48, 130]) {
        it(`prompt of ${length} tokens: logits, hidden states and top-k match`, async () => {
          const ids = await readI32(reference, `prompt${length}.input_ids`);
          const sequence = model.cache.createSequence();
          const result = await model.forward([{ sequence, tokens: ids }], {
            logits: 'all',
            captureHidden: true,
            captureTopk: true,
          });
          model.cache.release(sequence);
          const logits = new Float32Array(length * vocabSize);
          await backend.download(result.logits, logits);
          await backend.synchronize();
          const logitsError = maxAbsDiff(logits, await readF32(reference, `prompt${length}.logits`));
          const hiddenError = maxAbsDiff(
            result.hidden!,
            await readF32(reference, `prompt${length}.hidden_states`),
          );
          console.log(
            `ascend ${fixture} (${mode.label}) prompt${length}: logits max abs ${logitsError.toExponential(3)}, hidden ${hiddenError.toExponential(3)}`,
          );
          expect(logitsError).toBeLessThanOrEqual(golden.tolerance.logits_max_abs);
          expect(hiddenError).toBeLessThanOrEqual(golden.tolerance.hidden_max_abs);
          const width = Math.min(topk, length);
          const expected = await readI32(reference, `prompt${length}.topk_indices`);
          const ours = new Int32Array(nLayers * length * width);
          for (let row = 0; row < nLayers * length; row++)
            ours.set(result.topk!.subarray(row * topk, row * topk + width), row * width);
          expect(Array.from(ours)).toEqual(Array.from(expected));
        });
      }

      it('greedy decode with the KV cache reproduces tokens and step logits', async () => {
        const prompt = await readI32(reference, 'decode.prompt_ids');
        const stepLogits = await readF32(reference, 'decode.step_logits');
        const sequence = model.cache.createSequence();
        let result = await model.forward([{ sequence, tokens: prompt }]);
        const tokens: number[] = [];
        let worst = 0;
        for (let step = 0; step <= golden.decode.steps; step++) {
          const logits = new Float32Array(vocabSize);
          await backend.download(result.logits, logits);
          worst = Math.max(
            worst,
            maxAbsDiff(logits, stepLogits.subarray(step * vocabSize, (step + 1) * vocabSize)),
          );
          if (step === golden.decode.steps) break;
          const best = argmax(logits);
          tokens.push(best);
          result = await model.forward([{ sequence, tokens: [best] }]);
        }
        model.cache.release(sequence);
        await backend.synchronize();
        console.log(
          `ascend ${fixture} (${mode.label}) decode: step logits max abs ${worst.toExponential(3)}`,
        );
        expect(tokens).toEqual(golden.decode.greedy_tokens);
        expect(worst).toBeLessThanOrEqual(golden.tolerance.logits_max_abs);
      });

      it('generate() with temperature 0 yields the greedy tokens', async () => {
        const prompt = await readI32(reference, 'decode.prompt_ids');
        const out: number[] = [];
        for await (const token of generate(model, {
          prompt,
          maxTokens: golden.decode.steps,
          stopTokenIds: [],
        })) {
          out.push(token.id);
        }
        await backend.synchronize();
        expect(out).toEqual(golden.decode.greedy_tokens);
        expect(model.cache.freeBlocks).toBe(model.cache.numBlocks);
      });
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
