// A GGUF model with weights in the 1-2 bit i-quants and fp4 types (dequantized at load) on the native cpu backend:
// the same logits, bit for bit, and tokens as its twin that stores gguf-py's dequantization of those weights as
// F32. The per-type checks against gguf-py and the reference backend run are in
// packages/runtime/src/gguf/gguf-checkpoint.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import cpuBackendFactory from '@dsa/backend-cpu';
import { convertToGguf } from '@dsa/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MIXED_TYPES,
  runModel,
  writeMixedGgufs,
} from '../packages/runtime/src/gguf/test-gguf-quant-files.js';

const root = path.resolve(import.meta.dirname, '..');

let tmp: string;
let files: { quant: string; twin: string };
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'dsa-gguf-quant-cpu-'));
  const base = path.join(tmp, 'tiny-f32.gguf');
  await convertToGguf(path.join(root, 'fixtures/tiny-chat'), base, { type: 'f32' });
  files = await writeMixedGgufs(base, tmp);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('GGUF i-quant and fp4 weights on the cpu backend', () => {
  it('give the logits and tokens of their f32 twin', async () => {
    const backend = await cpuBackendFactory.create({ threads: 2 });
    try {
      const lines: string[] = [];
      const got = await runModel(backend, files.quant, (l) => lines.push(l));
      const want = await runModel(backend, files.twin);
      expect(got.logits.every(Number.isFinite)).toBe(true);
      expect(new Uint32Array(got.logits.buffer)).toEqual(new Uint32Array(want.logits.buffer));
      expect(got.tokens).toEqual(want.tokens);
      for (const type of Object.values(MIXED_TYPES)) {
        expect(lines.some((l) => l.includes(`1 ${type} tensor(s) dequantized to f32 at load`))).toBe(true);
      }
    } finally {
      backend.dispose();
    }
  });
});
