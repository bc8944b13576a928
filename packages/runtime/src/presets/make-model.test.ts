import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../checkpoint/checkpoint.js';
import { DeepseekModel } from '../model/deepseek-model.js';
import { makeModel } from './make-model.js';
import { presetConfig } from './presets.js';

describe('makeModel', () => {
  it('writes a sharded fp8 checkpoint the loader reads, with block scales', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-make-'));
    const { files } = await makeModel(dir, presetConfig('tiny', 2), {
      dtype: 'fp8',
      seed: 3,
      shardBytes: 200_000,
    });
    expect(files.length).toBeGreaterThan(1);
    expect(fs.existsSync(path.join(dir, 'model.safetensors.index.json'))).toBe(true);
    const checkpoint = await Checkpoint.open(dir);
    expect(checkpoint.info('model.layers.1.mlp.experts.3.down_proj.weight').dtype).toBe('f8_e4m3');
    expect(checkpoint.info('model.layers.1.mlp.experts.3.down_proj.weight_scale_inv').shape).toEqual([1, 1]);
    expect(checkpoint.info('model.layers.0.self_attn.indexer.weights_proj.weight').dtype).toBe('bf16');
    const scale = await checkpoint.read('model.layers.0.self_attn.q_a_proj.weight_scale_inv');
    const value = new Float32Array(scale.buffer, scale.byteOffset, 1)[0]!;
    expect(Math.log2(value)).toBe(Math.round(Math.log2(value))); // ue8m0: a power of two
    await checkpoint.close();
    const model = await DeepseekModel.load(new ReferenceBackend(), dir, { cacheTokens: 128 });
    expect(model.config.nLayers).toBe(2);
    model.dispose();
  });
});
