import { describe, expect, it } from 'vitest';
import { STEP_MEMORY_PROBE_ROWS, StepMemory } from './step-memory.js';

describe('StepMemory', () => {
  it('without a budget, gives every step its limit', () => {
    const memory = new StepMemory(null);
    memory.observe(10, 1e9);
    expect(memory.rows(512)).toBe(512);
  });

  it('probes with at most 64 rows, then scales up from the measured steps that fit', () => {
    const memory = new StepMemory(100_000);
    expect(memory.rows(512)).toBe(STEP_MEMORY_PROBE_ROWS);
    expect(memory.rows(10)).toBe(10);
    memory.observe(64, 64_000); // fits: 1000 bytes per row at 64 rows, so 100 rows fit
    expect(memory.rows(512)).toBe(100);
    memory.observe(100, 125_000); // 100 rows took more (a fixed part): over the budget, and no help
    expect(memory.rows(512)).toBe(100);
    memory.observe(80, 90_000); // 80 rows in 90 KB: r · 90000 / 80 ≤ 100000 up to 88 rows
    expect(memory.rows(512)).toBe(100);
    expect(memory.rows(16)).toBe(16);
  });

  it('does not take a large step’s bytes per row for a smaller step (the fixed part weighs more there)', () => {
    // F = 20000, P = 500: 128 rows take 84000, 16 rows 28000. Budget 30000.
    const memory = new StepMemory(30_000);
    memory.observe(128, 84_000);
    // No measured step fits: scaled as if without a fixed part, 45 rows; measured, they take 42500.
    expect(memory.rows(512)).toBe(45);
    memory.observe(45, 42_500);
    // Two measured steps over the budget: the line through them, F + 20 P = 30000.
    expect(memory.rows(512)).toBe(20);
    memory.observe(20, 30_000); // fits: from here on 20 rows
    expect(memory.rows(512)).toBe(20);
  });

  it('gives at least one row when a single row exceeds the budget', () => {
    const memory = new StepMemory(1000);
    memory.observe(2, 10_000);
    expect(memory.rows(512)).toBe(1);
  });

  it('rejects a budget that is not a positive number of bytes', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => new StepMemory(bad)).toThrow(/step memory budget must be a positive number of bytes, got/);
  });
});
