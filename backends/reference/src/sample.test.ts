import { processLogits, sampleRow, uploadTensor } from '@dsa/backend';
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from './reference-backend.js';

describe('sampling', () => {
  it('applies logit bias and the penalties by hand', () => {
    const backend = new ReferenceBackend();
    const logits = [2, -1, 0.5, 3];
    // prompt [0], output [2, 2, 3]
    const tokens = uploadTensor(backend, 'i32', [4], [0, 2, 2, 3]);
    const x = processLogits(
      logits,
      {
        temperature: 0,
        logitBias: [[1, 4]],
        repetitionPenalty: 2,
        frequencyPenalty: 0.1,
        presencePenalty: 0.5,
        history: { tokens, length: 4, promptLength: 1 },
      },
      [0, 2, 2, 3],
    );
    const expected = [
      2 / 2, // prompt token: repetition only
      -1 + 4, // bias, never seen
      0.5 / 2 - 0.1 * 2 - 0.5, // repetition, then frequency × 2 and presence
      3 / 2 - 0.1 - 0.5,
    ];
    expected.forEach((v, i) => {
      expect(x[i]).toBeCloseTo(v, 12);
    });
  });

  it('greedy picks the lowest index on ties; a seed reproduces its draw', () => {
    expect(sampleRow([1, 3, 3, 0], { temperature: 0 })).toBe(1);
    const logits = Array.from({ length: 100 }, (_, i) => Math.sin(i));
    const a = sampleRow(logits, { temperature: 1, seed: 42, step: 3 });
    expect(sampleRow(logits, { temperature: 1, seed: 42, step: 3 })).toBe(a);
    const draws = new Set(
      Array.from({ length: 20 }, (_, step) => sampleRow(logits, { temperature: 1, seed: 42, step })),
    );
    expect(draws.size).toBeGreaterThan(3);
    expect(sampleRow(logits, { temperature: 1, topK: 1, seed: 1 })).toBe(
      sampleRow(logits, { temperature: 0 }),
    );
  });
});
