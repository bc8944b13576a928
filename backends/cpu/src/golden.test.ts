// The whole model on the cpu backend against the fixtures' independent reference (transformers
// DeepseekV32ForCausalLM in float64): prompt logits, hidden states and indexer top-k selections,
// then greedy decoding with the KV cache. The same checks as tests/golden.test.ts on the reference
// backend, so the native kernels (and the fused ones the model picks up) are held to the same bar.
import fs from 'node:fs';
import path from 'node:path';
import { DeepseekModel, SafetensorsFile } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import { loadNative } from './native.js';

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

const native = loadNative();
if ('error' in native) throw native.error;

for (const fixture of ['tiny', 'tiny-fp8']) {
  describe(`fixture ${fixture} on the cpu backend`, async () => {
    const dir = path.join(FIXTURES, fixture);
    const golden = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')) as Golden;
    const reference = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
    const backend = new CpuBackend(native.addon, { threads: 2 });
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
        const logitsError = maxAbsDiff(logits, await readF32(reference, `prompt${length}.logits`));
        const hiddenError = maxAbsDiff(
          result.hidden!,
          await readF32(reference, `prompt${length}.hidden_states`),
        );
        console.log(
          `cpu ${fixture} prompt${length}: logits max abs ${logitsError.toExponential(3)}, hidden ${hiddenError.toExponential(3)}`,
        );
        expect(logitsError).toBeLessThanOrEqual(golden.tolerance.logits_max_abs);
        expect(hiddenError).toBeLessThanOrEqual(golden.tolerance.hidden_max_abs);
        const width = Math.min(topk, length);
        const expected = await readI32(reference, `prompt${length}.topk_indices`);
        const ours = new Int32Array(nLayers * length * width);
        for (let row = 0; row < nLayers * length; row++) {
          ours.set(result.topk!.subarray(row * topk, row * topk + width), row * width);
        }
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
      console.log(`cpu ${fixture} decode: step logits max abs ${worst.toExponential(3)}`);
      expect(tokens).toEqual(golden.decode.greedy_tokens);
      expect(worst).toBeLessThanOrEqual(golden.tolerance.logits_max_abs);
    });
  });
}
