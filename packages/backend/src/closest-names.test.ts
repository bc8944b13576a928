import { describe, expect, it } from 'vitest';
import { boundedEditDistance, closestNames } from './closest-names.js';

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1), prev[j]! + 1, cur[j - 1]! + 1);
    }
    prev = cur;
  }
  return prev[b.length]!;
}

describe('boundedEditDistance', () => {
  it('matches plain Levenshtein within the bound and caps above it', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const word = () => Array.from({ length: rand(12) }, () => 'abc.'[rand(4)]).join('');
    for (let k = 0; k < 2000; k++) {
      const a = word();
      const b = word();
      const max = rand(6);
      const exact = levenshtein(a, b);
      expect(boundedEditDistance(a, b, max)).toBe(exact <= max ? exact : max + 1);
    }
  });
});

describe('closestNames', () => {
  const names = [
    'model.layers.0.self_attn.q_a_proj.weight',
    'model.layers.0.self_attn.q_b_proj.weight',
    'model.layers.0.self_attn.o_proj.weight',
    'model.layers.1.self_attn.q_a_proj.weight',
    'model.embed_tokens.weight',
    'lm_head.weight',
  ];
  it('ranks by distance, ties by name, at most `limit`', () => {
    expect(closestNames('model.layers.0.self_attn.q_proj.weight', names, 3)).toEqual([
      'model.layers.0.self_attn.o_proj.weight',
      'model.layers.0.self_attn.q_a_proj.weight',
      'model.layers.0.self_attn.q_b_proj.weight',
    ]);
    expect(closestNames('embed_tokens.weight', names, 5)).toEqual(['model.embed_tokens.weight']);
    expect(closestNames('zzzz', names, 5)).toEqual([]);
  });
});
