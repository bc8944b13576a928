import path from 'node:path';
import type { Backend } from '@dsa/backend';
import { type CacheSequence, DeepseekModel } from '@dsa/runtime';
import { argmax } from '../../../tests/golden-helpers.js';
import { type CheckResult, runCheck } from './check-result.js';

/** Deterministic prompt token ids below `vocab`. */
function prompt(length: number, seed: number, vocab: number): number[] {
  return Array.from({ length }, (_, i) => (seed * 131 + i * 37 + 5) % vocab);
}

function argmaxRows(logits: Float32Array, vocab: number): number[] {
  return Array.from({ length: logits.length / vocab }, (_, r) =>
    argmax(logits.subarray(r * vocab, (r + 1) * vocab)),
  );
}

async function step(
  model: DeepseekModel,
  sequences: CacheSequence[],
  tokens: readonly number[][],
): Promise<Float32Array> {
  const result = await model.forward(sequences.map((sequence, i) => ({ sequence, tokens: tokens[i]! })));
  const host = new Float32Array(result.logits.shape[0]! * result.logits.shape[1]!);
  await model.backend.download(result.logits, host);
  return host;
}

/**
 * Captured decode graphs against eager decode on one fixture (`dir`, e.g. fixtures/tiny) on `backend`:
 * two models, one with graphs off, run the same greedy workload (prompts of 7, 48 and 130 tokens,
 * decoded at batch 1, 3 → bucket 4 and 5 → bucket 8, feeding both the eager model's tokens). Batch 1
 * must match bit for bit; padded buckets within `tolerance` (GEMMs may tile M = 3 and M = 4
 * differently) with equal greedy tokens. A last check times 32 decode steps at batch 1 each way.
 */
export async function modelGraphChecks(
  backend: Backend,
  dir: string,
  report: (result: CheckResult) => void = () => {},
  tolerance = 1e-4,
): Promise<CheckResult[]> {
  const fixture = path.basename(dir);
  const results: CheckResult[] = [];
  const push = async (
    name: string,
    tol: number,
    check: () => Promise<{ error: number; detail?: string }>,
  ) => {
    const result = await runCheck(`${fixture}/graphs ${name}`, tol, check);
    results.push(result);
    report(result);
  };
  let eager: DeepseekModel | null = null;
  let graphs: DeepseekModel | null = null;
  try {
    eager = await DeepseekModel.load(backend, dir, { cacheTokens: 2048, graphs: false });
    graphs = await DeepseekModel.load(backend, dir, { cacheTokens: 2048 });
    const a = eager;
    const b = graphs;
    const vocab = a.config.vocabSize;
    await push('enabled', 0, async () => ({
      error: b.graphStats ? 0 : 1,
      detail: b.graphStats
        ? ''
        : `no graphs: captureGraph ${backend.captureGraph ? 'present' : 'absent'}, graphCapture ${backend.capabilities.graphCapture}, fused [${[...backend.capabilities.fused].join(', ')}]`,
    }));
    if (!b.graphStats) return results;
    const seqA: CacheSequence[] = [];
    const seqB: CacheSequence[] = [];
    const next: number[] = [];
    const add = async (length: number, seed: number) => {
      const tokens = prompt(length, seed, vocab);
      const sa = a.cache.createSequence();
      const sb = b.cache.createSequence();
      const la = await step(a, [sa], [tokens]);
      await step(b, [sb], [tokens]);
      seqA.push(sa);
      seqB.push(sb);
      next.push(argmaxRows(la, vocab)[0]!);
    };
    const decode = async (steps: number) => {
      let worst = 0;
      let tokenMismatches = 0;
      for (let i = 0; i < steps; i++) {
        const tokens = next.map((t) => [t]);
        const la = await step(a, seqA, tokens);
        const lb = await step(b, seqB, tokens);
        for (let j = 0; j < la.length; j++) {
          const d = Math.abs(la[j]! - lb[j]!);
          if (!(d <= worst)) worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
        }
        const ta = argmaxRows(la, vocab);
        const tb = argmaxRows(lb, vocab);
        tokenMismatches += ta.filter((t, j) => t !== tb[j]).length;
        ta.forEach((t, j) => {
          next[j] = t;
        });
      }
      const stats = b.graphStats!;
      return {
        error: tokenMismatches > 0 ? Number.POSITIVE_INFINITY : worst,
        detail: `${tokenMismatches} token mismatches; captured ${stats.captured}, replayed ${stats.replayed}, eager ${stats.eager}, failures ${stats.failures}${stats.lastFailure ? ` (last: ${stats.lastFailure})` : ''}`,
      };
    };
    await add(7, 1);
    await push('batch 1 bit-exact', 0, () => decode(6));
    await add(48, 2);
    await add(130, 3);
    await push('batch 3 (bucket 4)', tolerance, () => decode(6));
    await add(20, 4);
    await add(90, 5);
    await push('batch 5 (bucket 8)', tolerance, () => decode(6));
    await push('no capture failures', 0, async () => ({
      error: b.graphStats!.failures,
      detail: JSON.stringify(b.graphStats),
    }));
    for (const s of seqA) a.cache.release(s);
    for (const s of seqB) b.cache.release(s);
    await push('batch 1 step time', Number.POSITIVE_INFINITY, async () => {
      const time = async (model: DeepseekModel) => {
        const sequence = model.cache.createSequence();
        let logits = await step(model, [sequence], [prompt(64, 6, vocab)]);
        let token = argmaxRows(logits, vocab)[0]!;
        for (let i = 0; i < 4; i++) {
          logits = await step(model, [sequence], [[token]]);
          token = argmaxRows(logits, vocab)[0]!;
        }
        const started = performance.now();
        for (let i = 0; i < 32; i++) {
          logits = await step(model, [sequence], [[token]]);
          token = argmaxRows(logits, vocab)[0]!;
        }
        const ms = (performance.now() - started) / 32;
        model.cache.release(sequence);
        return ms;
      };
      const eagerMs = await time(a);
      const graphMs = await time(b);
      return {
        error: 0,
        detail: `eager ${eagerMs.toFixed(3)} ms/step, graphs ${graphMs.toFixed(3)} ms/step (forward + logits download)`,
      };
    });
  } catch (error) {
    await push('run', 0, () => Promise.reject(error));
  } finally {
    graphs?.dispose();
    eager?.dispose();
  }
  return results;
}
