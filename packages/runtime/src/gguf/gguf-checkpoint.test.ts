import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOpenError } from '../checkpoint/test-open-error.js';
import { GgufCheckpoint } from './gguf-checkpoint.js';
import { convertToGguf } from './gguf-export.js';
import { MIXED_TYPES, runModel, writeMixedGgufs, writeQuantGguf } from './test-gguf-quant-files.js';

const TINY_CHAT = resolve(import.meta.dirname, '../../../../fixtures/tiny-chat');

/** The one tiny-chat matrix whose rows (256 values) fit the 256-value super-blocks: layer 0's dense down_proj. */
const DOWN = { gguf: 'blk.0.ffn_down.weight', hf: 'model.layers.0.mlp.down_proj.weight' };
/** A stacked expert tensor with rows of 128 (for the 32- and 64-value block types), and expert 5 of it. */
const UP_EXPS = { gguf: 'blk.1.ffn_up_exps.weight', hf: 'model.layers.1.mlp.experts.5.up_proj.weight' };

const SUPER_BLOCK_TYPES = ['IQ2_XXS', 'IQ2_XS', 'IQ2_S', 'IQ3_XXS', 'IQ3_S', 'IQ1_S', 'IQ1_M', 'IQ4_XS'];
const TERNARY_TYPES = ['TQ1_0', 'TQ2_0'];
const SMALL_BLOCK_TYPES = ['IQ4_NL', 'MXFP4', 'NVFP4'];

let dir: string;
let base: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dsa-gguf-quant-'));
  base = join(dir, 'tiny-f32.gguf');
  await convertToGguf(TINY_CHAT, base, { type: 'f32' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bits = (v: Float32Array) => new Uint32Array(v.buffer, v.byteOffset, v.length);

describe('GgufCheckpoint on the GGML types dequantized at load', () => {
  const cases = [
    ...[...SUPER_BLOCK_TYPES, ...TERNARY_TYPES].map((type) => ({ type, tensor: DOWN, expert: -1 })),
    ...SMALL_BLOCK_TYPES.map((type) => ({ type, tensor: UP_EXPS, expert: 5 })),
  ];
  for (const { type, tensor, expert } of cases) {
    it(`reads ${type} tensors as gguf-py dequantizes them, bit for bit, and logs it`, async () => {
      const file = join(dir, `tiny-${type}.gguf`);
      const expected = (await writeQuantGguf(base, file, { [tensor.gguf]: type })).get(tensor.gguf)!;
      const lines: string[] = [];
      const gguf = await GgufCheckpoint.open(file, (l) => lines.push(l));
      try {
        const info = gguf.info(tensor.hf);
        expect(info.dtype).toBe('f32');
        const got = new Float32Array((await gguf.read(tensor.hf)).slice().buffer);
        const size = got.length;
        const want = expected.subarray(
          expert < 0 ? 0 : expert * size,
          expert < 0 ? size : (expert + 1) * size,
        );
        expect(size).toBe(info.shape[0]! * info.shape[1]!);
        expect(bits(got)).toEqual(bits(want));
        expect(lines).toEqual([`${file}: 1 ${type} tensor(s) dequantized to f32 at load: ${tensor.gguf}`]);
      } finally {
        await gguf.close();
      }
    });
  }

  it('names a few tensors per type in the log line, then how many more', async () => {
    const file = join(dir, 'tiny-iq4_nl-experts.gguf');
    const names = [1, 2, 3].flatMap((i) => [`blk.${i}.ffn_up_exps.weight`, `blk.${i}.ffn_gate_exps.weight`]);
    await writeQuantGguf(base, file, Object.fromEntries(names.map((n) => [n, 'IQ4_NL'])));
    const lines: string[] = [];
    const gguf = await GgufCheckpoint.open(file, (l) => lines.push(l));
    try {
      await gguf.read('model.layers.1.mlp.experts.0.up_proj.weight');
      expect(lines).toEqual([
        `${file}: 6 IQ4_NL tensor(s) dequantized to f32 at load: blk.1.ffn_gate_exps.weight, blk.1.ffn_up_exps.weight, blk.2.ffn_gate_exps.weight and 3 more`,
      ]);
    } finally {
      await gguf.close();
    }
  });

  it('refuses a type it cannot dequantize when the file is opened, naming the tensor and why', async () => {
    const file = join(dir, 'tiny-q8_k.gguf');
    await writeQuantGguf(base, file, { [DOWN.gguf]: 'Q8_K' });
    const error = await expectOpenError(
      () => GgufCheckpoint.open(file),
      file,
      `tensor "${DOWN.gguf}": cannot dequantize GGML type Q8_K: an activation type`,
      'supported: F32, F16, Q4_0',
    );
    expect(error.tensor).toBe(DOWN.gguf);
  });

  it('runs a model of i-quant and fp4 tensors on the reference backend as on their f32 twin', async () => {
    const { quant, twin } = await writeMixedGgufs(base, dir);
    const lines: string[] = [];
    const got = await runModel(new ReferenceBackend(), quant, (l) => lines.push(l));
    const want = await runModel(new ReferenceBackend(), twin);
    expect(bits(got.logits)).toEqual(bits(want.logits));
    expect(got.tokens).toEqual(want.tokens);
    // The replaced tensors matter: the base model's logits differ.
    const before = await runModel(new ReferenceBackend(), base);
    expect(bits(before.logits)).not.toEqual(bits(got.logits));
    for (const type of Object.values(MIXED_TYPES)) {
      expect(lines.some((l) => l.includes(`1 ${type} tensor(s) dequantized to f32 at load`))).toBe(true);
    }
  });
});
