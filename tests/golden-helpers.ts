// Shared by the end-to-end tests: reading reference tensors and comparing arrays.
import type { SafetensorsFile } from '@dsa/runtime';
import { expect } from 'vitest';

/** A float32 tensor of a golden file. */
export async function readF32(file: SafetensorsFile, name: string): Promise<Float32Array> {
  const bytes = await file.read(name);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** An int32 tensor of a golden file. */
export async function readI32(file: SafetensorsFile, name: string): Promise<Int32Array> {
  const bytes = await file.read(name);
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** max |a - b| over two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Index of the largest entry (the lowest index on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
