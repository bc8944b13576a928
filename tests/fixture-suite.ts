// The fixture suite every backend runs: the whole model against the fixtures' independent reference
// (transformers DeepseekV32ForCausalLM in float64): logits and hidden states within golden.json's
// max-abs tolerances, identical top-k selections, and greedy decoding with the KV cache.
import fs from 'node:fs';
import path from 'node:path';
import type { Backend } from '@dsa/backend';
import { DeepseekModel, generate, SafetensorsFile } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';
import { greedyDecode, maxAbsDiff, readF32, readI32 } from './golden-helpers.js';

/** The repository's fixtures folder. */
export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');

interface Golden {
  decode: { prefill: number; steps: number; greedy_tokens: number[] };
  tolerance: { logits_max_abs: number; hidden_max_abs: number };
}

/** Registers the fixture suite of `fixture` (a folder of fixtures/) for the backend `options.create` makes. */
export function describeFixture(
  fixture: string,
  options: {
    /** Names the backend in test titles and logs. */
    readonly label: string;
    /** Makes the backend under test (rejecting with its reason when it cannot run). */
    readonly create: () => Promise<Backend>;
    /** Extra checks on the backend before the model loads. */
    readonly onCreate?: (backend: Backend) => void;
  },
): void {
  describe(`fixture ${fixture} on the ${options.label} backend`, async () => {
    const dir = path.join(FIXTURES, fixture);
    const golden = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')) as Golden;
    const reference = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
    const backend = await options.create();
    options.onCreate?.(backend);
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
        await backend.synchronize();
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
      const { tokens, worst } = await greedyDecode(model, prompt, golden.decode.steps, stepLogits);
      await backend.synchronize();
      console.log(`${options.label} ${fixture} decode: step logits max abs ${worst.toExponential(3)}`);
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
      await backend.synchronize();
      expect(out).toEqual(golden.decode.greedy_tokens);
      expect(model.cache.freeBlocks).toBe(model.cache.numBlocks);
    });
  });
}
