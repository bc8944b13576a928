// Test helper (not built into dist): the CheckpointError that opening a broken file or folder gives.
import { expect } from 'vitest';
import { CheckpointError } from './checkpoint-error.js';

/**
 * Runs `open` (which opens a checkpoint file or folder and closes it), expecting it to fail with a
 * `checkpoint_invalid` CheckpointError whose message contains every fragment; returns that error.
 */
export async function expectOpenError(
  open: () => Promise<{ close(): Promise<void> }>,
  ...fragments: string[]
): Promise<CheckpointError> {
  let error: unknown;
  try {
    const opened = await open();
    await opened.close();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CheckpointError);
  const e = error as CheckpointError;
  expect(e.code).toBe('checkpoint_invalid');
  for (const fragment of fragments) expect(e.message).toContain(fragment);
  return e;
}
