// End-to-end check of the whole model against the fixtures' independent reference
// (transformers DeepseekV32ForCausalLM in float64): logits, hidden states, top-k selections,
// and greedy decoding with the KV cache.
import fs from 'node:fs';
import path from 'node:path';
import type { BackendFactory } from '@dsa/backend';
import cpuBackendFactory from '@dsa/backend-cpu';
import referenceBackendFactory from '@dsa/backend-reference';
import { DeepseekModel, generate, SafetensorsFile } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';
import { argmax, maxAbsDiff, readF32, readI32 } from './golden-helpers.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');

interface Golden {
  decode: { prefill: number; steps: number; greedy_tokens: number[] };
  tolerance: { logits_max_abs: number; hidden_max_abs: number };
}

// Every backend is held to the same bar: the reference backend (composite fallbacks) and the native
// CPU backend (its own kernels and the fused ones the model picks up).
const BACKENDS: BackendFactory[] = [referenceBackendFactory, cpuBackendFactory];

for (const factory of BACKENDS)
  for (const fixture of ['tiny', 'tiny-fp8']) {
    describe(`fixture ${fixture} on the ${factory.name} backend`, async () => {
      const dir = path.join(FIXTURES, fixture);
      const golden = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')) as Golden;
      const reference = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
      const probe = await factory.probe();
      if (probe.score <= 0) throw new Error(`backend ${factory.name} cannot run: ${probe.reason}`);
      const backend = await factory.create();
      const model = await DeepseekModel.load(backend, dir, { cacheTokens: 512 });
      const { vocabSize, nLayers, dim } = model.config;
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
            `${fixture} prompt${length}: logits max abs ${logitsError.toExponential(3)}, hidden ${hiddenError.toExponential(3)}`,
          );
          expect(logitsError).toBeLessThanOrEqual(golden.tolerance.logits_max_abs);
          expect(hiddenError).toBeLessThanOrEqual(golden.tolerance.hidden_max_abs);
          // Our rows are index_topk wide; the reference's are min(index_topk, S) wide.
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
        console.log(`${factory.name} ${fixture} decode: step logits max abs ${worst.toExponential(3)}`);
        expect(tokens).toEqual(golden.decode.greedy_tokens);
        expect(worst).toBeLessThanOrEqual(golden.tolerance.logits_max_abs);
        expect(dim).toBeGreaterThan(0);
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
        expect(out).toEqual(golden.decode.greedy_tokens);
        expect(model.cache.freeBlocks).toBe(model.cache.numBlocks);
      });
    });
  }
