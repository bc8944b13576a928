// Test helpers shared by the property tests of the file readers (safetensors, GGUF); not built into dist.
import fs from 'node:fs';
import fc from 'fast-check';
import { expect } from 'vitest';
import { CheckpointError } from './checkpoint-error.js';
import type { CheckpointFile } from './checkpoint-file.js';

/** Replaces the true value of a stored count, length or offset with the value a hostile file stores. */
export type U64Lie = (truth: bigint) => bigint;

const U64_MAX = 2n ** 64n - 1n;

/**
 * How a hostile file lies about an unsigned count, length or offset of `bits` bits: off by a little from the
 * truth (both ways), a boundary where arithmetic goes wrong (0, 2^31, 2^32 - 1, 2^53 ± 1, 2^63, 2^64 - 1), or
 * any value at all. Results are clamped to `[0, 2^bits - 1]`.
 */
export function u64Lie(bits: 32 | 64 = 64): fc.Arbitrary<U64Lie> {
  const max = bits === 64 ? U64_MAX : 2n ** 32n - 1n;
  const clamp = (v: bigint) => (v < 0n ? 0n : v > max ? max : v);
  const boundaries = [
    0n,
    1n,
    2n ** 31n,
    2n ** 32n - 1n,
    2n ** 32n,
    2n ** 53n - 1n,
    2n ** 53n + 1n,
    2n ** 63n,
  ];
  // Named, so a counterexample fast-check prints says which lie it was.
  const named = (lie: U64Lie, name: string): U64Lie =>
    Object.assign(lie, { [fc.toStringMethod]: () => name });
  return fc.oneof(
    fc
      .integer({ min: -8, max: 8 })
      .map((delta) =>
        named((truth) => clamp(truth + BigInt(delta)), `truth ${delta < 0 ? '-' : '+'} ${Math.abs(delta)}`),
      ),
    fc.constantFrom(...boundaries, U64_MAX).map((value) => named(() => clamp(value), `${clamp(value)}`)),
    fc.bigInt({ min: 0n, max }).map((value) => named(() => value, `${value}`)),
  );
}

/**
 * Asserts that `error` is the {@link CheckpointError} a reader must give for a bad file: it carries `file`
 * as its file and its message starts with the file's path, followed by what is wrong.
 */
export function expectFileError(error: unknown, file: string): CheckpointError {
  expect(error).toBeInstanceOf(CheckpointError);
  const e = error as CheckpointError;
  expect(e.file).toBe(file);
  expect(e.message.startsWith(`${file}: `)).toBe(true);
  expect(e.message.length).toBeGreaterThan(file.length + 8);
  return e;
}

/** How many hostile files opened and how many were refused, so a generator that only makes garbage shows. */
export interface FuzzOutcomes {
  opened: number;
  refused: number;
}

/**
 * The property every file reader keeps: `bytes`, written to `target`, either open with `open` or are refused
 * with the {@link CheckpointError} naming the file (see {@link expectFileError}; `refused` may check it further).
 * Counts each outcome in `outcomes`; an opened file goes to `use` and is closed afterwards.
 */
export async function openOrRefuse<F extends CheckpointFile>(
  target: string,
  bytes: Uint8Array,
  open: (path: string) => Promise<F>,
  outcomes: FuzzOutcomes,
  use: (file: F) => Promise<void>,
  refused?: (error: CheckpointError) => void,
): Promise<void> {
  fs.writeFileSync(target, bytes);
  let opened: F;
  try {
    opened = await open(target);
  } catch (error) {
    refused?.(expectFileError(error, target));
    outcomes.refused++;
    return;
  }
  outcomes.opened++;
  try {
    await use(opened);
  } finally {
    await opened.close();
  }
}

/** Deterministic bytes of any pattern (xorshift32 from `seed`; NaN bit patterns included) for tensor data. */
export function seededBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}
