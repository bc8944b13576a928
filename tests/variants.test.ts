// Architectures other than the main fixtures' (odd head counts and ranks, YaRN with an attention
// factor != 1, plain RoPE, one expert group, no shared expert, unnormalized routing, DeepSeek-V3
// without indexer and without q_lora), each checked against transformers in float64
// (tools/reference/hf_golden.py). Nothing in the engine may special-case the fixture's sizes.
import fs from 'node:fs';
import path from 'node:path';
import type { BackendFactory } from '@dsa/backend';
import cpuBackendFactory from '@dsa/backend-cpu';
import referenceBackendFactory from '@dsa/backend-reference';
import { DeepseekModel, SafetensorsFile } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';
import { argmax, maxAbsDiff, readF32, readI32 } from './golden-helpers.js';

const VARIANTS = path.resolve(import.meta.dirname, '../fixtures/variants');
const TOLERANCE = 2e-3;

const BACKENDS: BackendFactory[] = [referenceBackendFactory, cpuBackendFactory];

for (const factory of BACKENDS)
  for (const variant of fs.readdirSync(VARIANTS).sort()) {
    describe(`variant ${variant} against transformers on the ${factory.name} backend`, async () => {
      const dir = path.join(VARIANTS, variant);
      const golden = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8'));
      const reference = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
      const backend = await factory.create();
      const model = await DeepseekModel.load(backend, dir, { cacheTokens: 256 });
      const vocab = model.config.vocabSize;

      it('prefill logits and hidden states (sparse where the prompt exceeds index_topk)', async () => {
        const ids = await readI32(reference, 'prompt.input_ids');
        const sequence = model.cache.createSequence();
        const result = await model.forward([{ sequence, tokens: ids }], {
          logits: 'all',
          captureHidden: true,
        });
        model.cache.release(sequence);
        const logits = new Float32Array(ids.length * vocab);
        await backend.download(result.logits, logits);
        const logitsError = maxAbsDiff(logits, await readF32(reference, 'prompt.logits'));
        const hiddenError = maxAbsDiff(result.hidden!, await readF32(reference, 'prompt.hidden_states'));
        console.log(
          `${variant}: logits max abs ${logitsError.toExponential(3)}, hidden ${hiddenError.toExponential(3)}`,
        );
        expect(logitsError).toBeLessThanOrEqual(TOLERANCE);
        expect(hiddenError).toBeLessThanOrEqual(TOLERANCE);
      });

      it('greedy decode with the KV cache, in prefill chunks of 7', async () => {
        const prompt = await readI32(reference, 'decode.prompt_ids');
        const steps = await readF32(reference, 'decode.step_logits');
        const sequence = model.cache.createSequence();
        let result = null;
        for (let start = 0; start < prompt.length; start += 7) {
          result = await model.forward([
            { sequence, tokens: prompt.subarray(start, Math.min(prompt.length, start + 7)) },
          ]);
        }
        const tokens: number[] = [];
        let worst = 0;
        for (let step = 0; step <= golden.decode.steps; step++) {
          const logits = new Float32Array(vocab);
          await backend.download(result!.logits, logits);
          worst = Math.max(worst, maxAbsDiff(logits, steps.subarray(step * vocab, (step + 1) * vocab)));
          if (step === golden.decode.steps) break;
          const best = argmax(logits);
          tokens.push(best);
          result = await model.forward([{ sequence, tokens: [best] }]);
        }
        model.cache.release(sequence);
        expect(tokens).toEqual(golden.decode.greedy_tokens);
        expect(worst).toBeLessThanOrEqual(TOLERANCE);
      });
    });
  }
