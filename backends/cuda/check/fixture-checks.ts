import fs from 'node:fs';
import path from 'node:path';
import type { Backend } from '@dsa/backend';
import { DeepseekModel, generate, SafetensorsFile } from '@dsa/runtime';
import { greedyDecode, maxAbsDiff, readF32, readI32 } from '../../../tests/golden-helpers.js';
import { type CheckResult, runCheck } from './check-result.js';

/** What the fixtures' golden.json says about tolerances and the greedy decode. */
interface Golden {
  readonly decode: { readonly steps: number; readonly greedy_tokens: number[] };
  readonly tolerance: { readonly logits_max_abs: number; readonly hidden_max_abs: number };
}

/** The fixtures the device checks run (those of tests/golden.test.ts). */
export const FIXTURES = ['tiny', 'tiny-fp8'] as const;
/** Prompt lengths checked per fixture. */
export const PROMPT_LENGTHS = [7, 48, 130] as const;

/**
 * The end-to-end checks of tests/golden.test.ts for one fixture directory on `backend`: per prompt
 * length, logits and hidden states within the fixture's tolerances and top-k selections equal; then a
 * greedy decode with the KV cache (tokens equal, step logits within tolerance) and generate().
 */
export async function fixtureChecks(
  backend: Backend,
  dir: string,
  report: (result: CheckResult) => void = () => {},
): Promise<CheckResult[]> {
  const fixture = path.basename(dir);
  const results: CheckResult[] = [];
  const push = (result: CheckResult) => {
    results.push(result);
    report(result);
  };
  const golden = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')) as Golden;
  const reference = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
  let model: DeepseekModel;
  try {
    model = await DeepseekModel.load(backend, dir, { cacheTokens: 512 });
  } catch (error) {
    push(await runCheck(`${fixture}/load`, 0, () => Promise.reject(error)));
    return results;
  }
  const { vocabSize, nLayers } = model.config;
  const topk = model.config.indexer?.indexTopk ?? 0;
  const tol = golden.tolerance;
  for (const length of PROMPT_LENGTHS) {
    const ids = await readI32(reference, `prompt${length}.input_ids`);
    let hidden = 0;
    let topkDetail = '';
    const sequence = model.cache.createSequence();
    let outputs: Awaited<ReturnType<DeepseekModel['forward']>> | undefined;
    push(
      await runCheck(`${fixture}/prompt${length} logits`, tol.logits_max_abs, async () => {
        outputs = await model.forward([{ sequence, tokens: ids }], {
          logits: 'all',
          captureHidden: true,
          captureTopk: true,
        });
        const logits = new Float32Array(length * vocabSize);
        await backend.download(outputs.logits, logits);
        hidden = maxAbsDiff(outputs.hidden!, await readF32(reference, `prompt${length}.hidden_states`));
        const width = Math.min(topk, length);
        const expected = await readI32(reference, `prompt${length}.topk_indices`);
        let mismatches = 0;
        for (let row = 0; row < nLayers * length; row++)
          for (let j = 0; j < width; j++)
            if (outputs.topk![row * topk + j] !== expected[row * width + j]) mismatches++;
        topkDetail = `${mismatches} of ${nLayers * length * width} top-k indices differ`;
        return { error: maxAbsDiff(logits, await readF32(reference, `prompt${length}.logits`)) };
      }),
    );
    model.cache.release(sequence);
    if (outputs) {
      push(
        await runCheck(`${fixture}/prompt${length} hidden`, tol.hidden_max_abs, async () => ({
          error: hidden,
        })),
      );
      push(
        await runCheck(`${fixture}/prompt${length} topk`, 0, async () => ({
          error: topkDetail.startsWith('0 ') ? 0 : 1,
          detail: topkDetail,
        })),
      );
    }
  }
  const prompt = await readI32(reference, 'decode.prompt_ids');
  const stepLogits = await readF32(reference, 'decode.step_logits');
  push(
    await runCheck(`${fixture}/greedy decode step logits`, tol.logits_max_abs, async () => {
      const { tokens, worst } = await greedyDecode(model, prompt, golden.decode.steps, stepLogits);
      const same = tokens.join(',') === golden.decode.greedy_tokens.join(',');
      return {
        error: same ? worst : Number.POSITIVE_INFINITY,
        detail: same ? '' : `tokens ${tokens.join(',')} != golden ${golden.decode.greedy_tokens.join(',')}`,
      };
    }),
  );
  push(
    await runCheck(`${fixture}/generate greedy`, 0, async () => {
      const out: number[] = [];
      for await (const token of generate(model, { prompt, maxTokens: golden.decode.steps, stopTokenIds: [] }))
        out.push(token.id);
      const same = out.join(',') === golden.decode.greedy_tokens.join(',');
      const leaked = model.cache.freeBlocks !== model.cache.numBlocks;
      return {
        error: same && !leaked ? 0 : 1,
        detail: same
          ? leaked
            ? 'cache blocks leaked'
            : ''
          : `tokens ${out.join(',')} != ${golden.decode.greedy_tokens.join(',')}`,
      };
    }),
  );
  return results;
}
