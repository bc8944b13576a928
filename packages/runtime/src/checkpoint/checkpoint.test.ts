import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_INDEX_FILE, Checkpoint } from './checkpoint.js';
import { CheckpointError } from './checkpoint-error.js';
import { writeSafetensors } from './safetensors-writer.js';
import { expectOpenError } from './test-open-error.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../../fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-checkpoint-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
function folder(): string {
  const dir = path.join(tmp, `ckpt-${counter++}`);
  fs.mkdirSync(dir);
  return dir;
}

function f32(name: string, values: number[]) {
  return { name, dtype: 'f32' as const, shape: [values.length], data: new Float32Array(values) };
}

function writeIndex(dir: string, weightMap: unknown): void {
  fs.writeFileSync(
    path.join(dir, CHECKPOINT_INDEX_FILE),
    JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
  );
}

/** Two shards and an index mapping a, b to shard 1 and c to shard 2. */
async function shardedFolder(): Promise<string> {
  const dir = folder();
  await writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), [
    f32('a', [1, 2]),
    f32('b', [3]),
  ]);
  await writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), [
    f32('c', [4, 5, 6]),
    f32('unlisted', [7]),
  ]);
  return dir;
}

function openError(dir: string, ...fragments: string[]): Promise<CheckpointError> {
  return expectOpenError(() => Checkpoint.open(dir), ...fragments);
}

describe('Checkpoint with model.safetensors.index.json', () => {
  it('opens every shard once and reads tensors from the shard the index names', async () => {
    const dir = await shardedFolder();
    writeIndex(dir, {
      a: 'model-00001-of-00002.safetensors',
      c: 'model-00002-of-00002.safetensors',
      b: 'model-00001-of-00002.safetensors',
    });
    const ckpt = await Checkpoint.open(dir);
    try {
      expect(ckpt.dir).toBe(path.resolve(dir));
      expect(ckpt.files).toEqual([
        path.join(dir, 'model-00001-of-00002.safetensors'),
        path.join(dir, 'model-00002-of-00002.safetensors'),
      ]);
      expect(ckpt.names()).toEqual(['a', 'c', 'b']);
      expect(ckpt.has('a')).toBe(true);
      expect(ckpt.has('unlisted')).toBe(false);
      expect(ckpt.info('c')).toMatchObject({ dtype: 'f32', shape: [3], byteLength: 12, file: ckpt.files[1] });
      expect(ckpt.info('b').file).toBe(ckpt.files[0]);
      expect(ckpt.totalBytes).toBe(24);
      const [a, b, c] = await Promise.all([ckpt.read('a'), ckpt.read('b'), ckpt.read('c')]);
      expect(new Float32Array(a.buffer)).toEqual(new Float32Array([1, 2]));
      expect(new Float32Array(b.buffer)).toEqual(new Float32Array([3]));
      expect(new Float32Array(c.buffer)).toEqual(new Float32Array([4, 5, 6]));
      const target = new Uint8Array(12);
      await ckpt.readInto('c', target);
      expect(new Float32Array(target.buffer)).toEqual(new Float32Array([4, 5, 6]));
    } finally {
      await ckpt.close();
    }
  });

  // [what, the tensor mapped, its shard, the reason, whether the error's file is the index]
  it.each([
    [
      'a mapped tensor missing from its shard',
      'c',
      'model-00001-of-00002.safetensors',
      'no such tensor',
      true,
    ],
    ['a shard that does not exist', 'z', 'model-00009-of-00009.safetensors', 'does not exist', false],
  ] as const)(
    'rejects %s, naming tensor, shard and index file',
    async (_, tensor, shard, reason, inIndex) => {
      const dir = await shardedFolder();
      writeIndex(dir, { a: 'model-00001-of-00002.safetensors', [tensor]: shard });
      const e = await openError(dir, `"${tensor}"`, shard, CHECKPOINT_INDEX_FILE, reason);
      expect(e.tensor).toBe(tensor);
      if (inIndex) expect(e.file).toBe(path.join(dir, CHECKPOINT_INDEX_FILE));
    },
  );

  it('rejects shard names that escape the folder', async () => {
    const dir = await shardedFolder();
    for (const shard of [
      '../outside.safetensors',
      '/etc/passwd.safetensors',
      'sub/../../x.safetensors',
      'x.bin',
      7,
    ]) {
      writeIndex(dir, { a: 'model-00001-of-00002.safetensors', evil: shard });
      const e = await openError(
        dir,
        CHECKPOINT_INDEX_FILE,
        'weight_map["evil"]',
        JSON.stringify(shard),
        'inside',
      );
      expect(e.tensor).toBe('evil');
    }
  });

  it('rejects an index that is not JSON or has no weight_map', async () => {
    const dir = await shardedFolder();
    fs.writeFileSync(path.join(dir, CHECKPOINT_INDEX_FILE), '{"weight_map": ');
    const bad = await openError(dir, path.join(dir, CHECKPOINT_INDEX_FILE), 'invalid JSON');
    expect(bad.file).toBe(path.join(dir, CHECKPOINT_INDEX_FILE));
    fs.writeFileSync(path.join(dir, CHECKPOINT_INDEX_FILE), '{"metadata": {}}');
    const missing = await openError(dir, CHECKPOINT_INDEX_FILE, 'field "weight_map"', 'no such field');
    expect(missing.tensor).toBe('weight_map');
    writeIndex(dir, {});
    await openError(dir, CHECKPOINT_INDEX_FILE, '"weight_map" is empty');
  });

  it('passes on a corrupt shard error naming the shard file and tensor', async () => {
    const dir = await shardedFolder();
    const shard = path.join(dir, 'model-00002-of-00002.safetensors');
    fs.truncateSync(shard, fs.statSync(shard).size - 4);
    writeIndex(dir, { a: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' });
    const e = await openError(dir, shard, '"unlisted"', 'past the end of the file');
    expect(e.file).toBe(shard);
  });
});

describe('Checkpoint without an index', () => {
  it('uses model.safetensors alone when present', async () => {
    const dir = folder();
    await writeSafetensors(path.join(dir, 'model.safetensors'), [f32('w', [1])]);
    await writeSafetensors(path.join(dir, 'golden.safetensors'), [f32('logits', [2])]);
    const ckpt = await Checkpoint.open(dir);
    try {
      expect(ckpt.files).toEqual([path.join(dir, 'model.safetensors')]);
      expect(ckpt.names()).toEqual(['w']);
    } finally {
      await ckpt.close();
    }
  });

  it('uses every *.safetensors file otherwise', async () => {
    const dir = folder();
    await writeSafetensors(path.join(dir, 'part-b.safetensors'), [f32('y', [2])]);
    await writeSafetensors(path.join(dir, 'part-a.safetensors'), [f32('x', [1])]);
    fs.writeFileSync(path.join(dir, 'README.md'), 'hello');
    const ckpt = await Checkpoint.open(dir);
    try {
      expect(ckpt.files).toEqual([
        path.join(dir, 'part-a.safetensors'),
        path.join(dir, 'part-b.safetensors'),
      ]);
      expect(ckpt.names().sort()).toEqual(['x', 'y']);
      expect(new Float32Array((await ckpt.read('y')).buffer)).toEqual(new Float32Array([2]));
    } finally {
      await ckpt.close();
    }
  });

  it('rejects a tensor name in two files, naming both', async () => {
    const dir = folder();
    await writeSafetensors(path.join(dir, 'one.safetensors'), [f32('x', [1]), f32('shared', [1])]);
    await writeSafetensors(path.join(dir, 'two.safetensors'), [f32('shared', [2])]);
    const e = await openError(dir, '"shared"', 'one.safetensors', 'two.safetensors', 'both');
    expect(e.tensor).toBe('shared');
  });

  it('rejects a folder with no safetensors, listing what it expected', async () => {
    const dir = folder();
    fs.writeFileSync(path.join(dir, 'config.json'), '{}');
    const e = await openError(
      dir,
      path.resolve(dir),
      'no safetensors checkpoint',
      CHECKPOINT_INDEX_FILE,
      'model.safetensors',
      '*.safetensors',
      '"config.json"',
    );
    expect(e.file).toBe(path.resolve(dir));
    await openError(folder(), 'an empty folder');
  });

  it('rejects a missing folder and a file given as folder', async () => {
    const missing = path.join(tmp, 'does-not-exist');
    await openError(missing, missing, 'folder not found');
    const file = path.join(tmp, 'plain-file');
    fs.writeFileSync(file, 'x');
    await openError(file, file, 'found a file');
  });
});

describe('Checkpoint lookups and helpers', () => {
  it('explains a missing tensor with close names', async () => {
    const ckpt = await Checkpoint.open(path.join(FIXTURES, 'tiny'));
    try {
      let error: unknown;
      try {
        ckpt.info('model.layers.0.self_attn.q_proj.weight');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CheckpointError);
      const e = error as CheckpointError;
      expect(e.tensor).toBe('model.layers.0.self_attn.q_proj.weight');
      expect(e.message).toContain(
        `tensor "model.layers.0.self_attn.q_proj.weight" not found in checkpoint ${path.join(FIXTURES, 'tiny')}`,
      );
      expect(e.message).toContain('model.layers.0.self_attn.q_a_proj.weight');
      expect(e.message).toContain('model.layers.0.self_attn.q_b_proj.weight');
      const suggested = e.message.slice(e.message.indexOf('did you mean')).match(/"[^"]+"/g) ?? [];
      expect(suggested.length).toBeGreaterThan(0);
      expect(suggested.length).toBeLessThanOrEqual(5);
      await expect(ckpt.read('nope')).rejects.toThrow(CheckpointError);
      await expect(ckpt.readInto('nope', new Uint8Array(1))).rejects.toThrow('not found in checkpoint');
    } finally {
      await ckpt.close();
    }
  });

  it('reads JSON files of the folder, naming the file on errors', async () => {
    const dir = folder();
    await writeSafetensors(path.join(dir, 'model.safetensors'), [f32('w', [1])]);
    fs.writeFileSync(path.join(dir, 'config.json'), '{"hidden_size": 8}');
    fs.writeFileSync(path.join(dir, 'broken.json'), '{"hidden_size": ');
    const ckpt = await Checkpoint.open(dir);
    try {
      expect(await ckpt.readJson('config.json')).toEqual({ hidden_size: 8 });
      const missing = await ckpt.readJson('generation_config.json').catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(CheckpointError);
      expect((missing as CheckpointError).message).toContain(path.join(dir, 'generation_config.json'));
      expect((missing as CheckpointError).message).toContain('file not found');
      const broken = await ckpt.readJson('broken.json').catch((e: unknown) => e);
      expect(broken).toBeInstanceOf(CheckpointError);
      expect((broken as CheckpointError).message).toContain(path.join(dir, 'broken.json'));
      expect((broken as CheckpointError).message).toContain('invalid JSON');
      await expect(ckpt.readJson('../secret.json')).rejects.toThrow('inside the checkpoint folder');
    } finally {
      await ckpt.close();
    }
  });

  it('errors on reads after close', async () => {
    const dir = folder();
    await writeSafetensors(path.join(dir, 'model.safetensors'), [f32('w', [1])]);
    const ckpt = await Checkpoint.open(dir);
    await ckpt.close();
    await expect(ckpt.read('w')).rejects.toThrow('closed');
  });
});

describe('Checkpoint on the tiny fixtures', () => {
  it('opens fixtures/tiny (model.safetensors, not golden.safetensors)', async () => {
    const dir = path.join(FIXTURES, 'tiny');
    const ckpt = await Checkpoint.open(dir);
    try {
      expect(ckpt.files).toEqual([path.join(dir, 'model.safetensors')]);
      const bias = ckpt.info('model.layers.1.mlp.gate.e_score_correction_bias');
      expect(bias.dtype).toBe('f32');
      expect(bias.shape).toEqual([16]);
      const embed = ckpt.info('model.embed_tokens.weight');
      expect(embed.dtype).toBe('bf16');
      expect(embed.shape).toEqual([1024, 128]);
      expect((await ckpt.read('model.embed_tokens.weight')).byteLength).toBe(1024 * 128 * 2);
      expect(ckpt.totalBytes).toBeGreaterThan(embed.byteLength);
      const config = await ckpt.readJson('config.json');
      expect(typeof config).toBe('object');
    } finally {
      await ckpt.close();
    }
  });

  it('opens fixtures/tiny-fp8 with its block scales', async () => {
    const ckpt = await Checkpoint.open(path.join(FIXTURES, 'tiny-fp8'));
    try {
      const scale = ckpt.info('model.layers.0.self_attn.q_a_proj.weight_scale_inv');
      expect(scale.dtype).toBe('f32');
      expect(scale.shape).toEqual([1, 1]);
      const weight = ckpt.info('model.layers.0.self_attn.q_a_proj.weight');
      expect(weight.dtype).toBe('f8_e4m3');
      expect(weight.shape).toEqual([64, 128]);
      const scaleValue = new Float32Array((await ckpt.read(scale.name)).buffer)[0]!;
      expect(scaleValue).toBeGreaterThan(0);
    } finally {
      await ckpt.close();
    }
  });
});
