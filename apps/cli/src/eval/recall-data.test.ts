import { describe, expect, it } from 'vitest';
import { contextLength, generateRecall, parseRecallJsonl, RECALL_VOCAB, recallJsonl } from './recall-data.js';

describe('generateRecall', () => {
  const data = generateRecall({ length: 64, pairs: 6, queries: 4, count: 50, seed: 3 });

  it('follows the task definition: BOS, L context tokens, Q query triples, answers pointing at the values', () => {
    for (const s of data) {
      expect(s.ids[0]).toBe(RECALL_VOCAB.bos);
      expect(s.ids.length).toBe(1 + 64 + 3 * 4);
      expect(contextLength(s)).toBe(64);
      const context = s.ids.slice(1, 65);
      const keyPositions = context.flatMap((t, i) => (t >= 4 && t < 132 ? [i] : []));
      expect(keyPositions.length).toBe(6); // keys are distinct and only appear in pairs
      expect(new Set(keyPositions.map((i) => context[i])).size).toBe(6);
      for (const i of keyPositions) expect(context[i + 1]! >= 132 && context[i + 1]! < 260).toBe(true);
      const fillers = context.filter((t) => t >= 260 && t < 512).length;
      expect(fillers).toBe(64 - 12);
      const queriedKeys = new Set<number>();
      s.answers.forEach(([position, token], q) => {
        expect(position).toBe(65 + 3 * q + 2);
        expect(s.ids[position - 2]).toBe(RECALL_VOCAB.query);
        const key = s.ids[position - 1]!;
        queriedKeys.add(key);
        // the answer is the value that followed this key in the context
        expect(context[context.indexOf(key) + 1]).toBe(token);
        expect(s.ids[position]).toBe(token);
      });
      expect(queriedKeys.size).toBe(4);
    }
  });

  it('is reproducible by seed and places pairs all over the context', () => {
    expect(generateRecall({ length: 64, pairs: 6, queries: 4, count: 50, seed: 3 })).toEqual(data);
    const firstKeys = data.map((s) => s.ids.findIndex((t, i) => i > 0 && t >= 4 && t < 132));
    expect(Math.min(...firstKeys)).toBeLessThan(8);
    expect(Math.max(...firstKeys)).toBeGreaterThan(20);
  });

  it('refuses impossible parameters', () => {
    expect(() => generateRecall({ length: 10, pairs: 6, queries: 4, count: 1, seed: 0 })).toThrow(/2P <= L/);
    expect(() => generateRecall({ length: 64, pairs: 3, queries: 4, count: 1, seed: 0 })).toThrow(/Q <= P/);
  });
});

describe('parseRecallJsonl', () => {
  it('round-trips generated data', () => {
    const data = generateRecall({ length: 32, pairs: 4, queries: 2, count: 3, seed: 1 });
    expect(parseRecallJsonl(recallJsonl(data), 'x.jsonl', 512)).toEqual(data);
  });

  it('names the line and field of every problem', () => {
    const bad: [string, RegExp][] = [
      ['{"ids": [0, 5, 7]}', /x\.jsonl:1: field "answers": expected a non-empty array/],
      ['{"ids": [0, 5, 700], "answers": [[2, 700]]}', /x\.jsonl:1: field "ids\[2\]": 700 is not a token id/],
      ['{"ids": [0, 5, 7], "answers": [[3, 7]]}', /field "answers\[0\]\[0\]": position 3 is outside 1\.\.2/],
      ['{"ids": [0, 5, 7], "answers": [[2, 8]]}', /field "answers\[0\]\[1\]": token 8 is not ids\[2\] \(7\)/],
      ['{"ids": "0 5"}', /field "ids": expected an array/],
      ['[1, 2]', /expected an object/],
      ['{"ids": [0, 5', /x\.jsonl:1: not valid JSON/],
    ];
    for (const [line, message] of bad) expect(() => parseRecallJsonl(line, 'x.jsonl', 512)).toThrow(message);
    expect(() => parseRecallJsonl('{"ids":[0,5,7],"answers":[[2,7]]}\n\n{"ids": 3}', 'x.jsonl', 512)).toThrow(
      /x\.jsonl:3: field "ids"/,
    );
    expect(() => parseRecallJsonl('\n', 'x.jsonl', 512)).toThrow(/x\.jsonl: no sequences/);
  });
});
