import { describe, expect, it } from 'vitest';
import { roundHalfEven } from './round-half-even.js';

describe('roundHalfEven', () => {
  it('rounds to the nearest integer, ties to even', () => {
    expect([0.4, 0.5, 0.6, 1.5, 2.5, 3.5, -0.5, -1.5, -2.6].map(roundHalfEven)).toEqual([
      0, 0, 1, 2, 2, 4, 0, -2, -3,
    ]);
  });
});
