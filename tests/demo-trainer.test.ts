// The demo-model trainer end to end at toy size (tools/demo-model/train_demo.py --toy on synthetic data): the
// self-tests, phases A, A2 (YaRN switch), B and C, eval.json, and the sharded fp8 and bf16 exports, which every
// backend must load through model.safetensors.index.json and match against the trainer's goldens.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import cpuBackendFactory from '@dsa/backend-cpu';
import referenceBackendFactory from '@dsa/backend-reference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonWithTorch } from './python-torch.js';
import { expectTrainerGolden } from './trainer-golden.js';

const python = pythonWithTorch();
if (!python && process.env.CI)
  throw new Error('CI needs PyTorch for the trainer tests: apt-get install python3-torch');

const SHARD_MIB = 0.1;

describe.skipIf(!python)('demo trainer (tools/demo-model/train_demo.py --toy)', () => {
  let dir = '';
  let log: Record<string, unknown>[] = [];
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dsa-demo-'));
    const script = 'tools/demo-model/train_demo.py';
    const data = path.join(dir, 'data');
    const env = { ...process.env, OPENBLAS_NUM_THREADS: '1' };
    const make = spawnSync(python!, [script, '--make-toy-data', data], {
      encoding: 'utf8',
      env,
      timeout: 60_000,
    });
    if (make.status !== 0) throw new Error(`--make-toy-data failed: ${make.stderr}`);
    const args = [script, '--toy', '--data', data, '--run-dir', path.join(dir, 'run'), '--threads', '1'];
    args.push(
      '--max-steps',
      '4',
      '--budget-s',
      '60',
      '--max-shard-mib',
      String(SHARD_MIB),
      '--eval-every',
      '2',
    );
    const r = spawnSync(python!, args, { encoding: 'utf8', env, timeout: 240_000 });
    if (r.status !== 0) throw new Error(`train_demo.py failed (${r.status}): ${r.stderr}`);
    log = readFileSync(path.join(dir, 'run', 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes its self-tests, trains every phase and writes eval.json', () => {
    expect(log.find((r) => 'selftest' in r)?.selftest).toBe('ok');
    expect(new Set(log.filter((r) => 'phase' in r).map((r) => r.phase))).toEqual(
      new Set(['A', 'A2', 'B', 'C']),
    );
    const report = JSON.parse(readFileSync(path.join(dir, 'run', 'eval.json'), 'utf8'));
    for (const mode of ['dense', 'indexer-64', 'window-64', 'random-64', 'oracle-64'])
      expect(report.context_256.ppl[mode]).toBeGreaterThan(1);
    expect(report.context_256.recall.indexer_mass).toHaveLength(2);
    expect(Object.keys(report.weights)).toEqual(['bf16', 'fp8', 'untrained_indexer']);
    expect(report.samples.length).toBeGreaterThan(0);
  });

  for (const dtype of ['fp8', 'bf16']) {
    it(`${dtype}: shards within the size limit, every tensor in the index, YaRN in config.json`, () => {
      const out = path.join(dir, 'run', `export-${dtype}`);
      const index = JSON.parse(readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8'));
      const shards = [...new Set(Object.values(index.weight_map as Record<string, string>))];
      expect(shards.length).toBeGreaterThan(1);
      expect(
        readdirSync(out)
          .filter((f) => f.startsWith('model-'))
          .sort(),
      ).toEqual(shards.sort());
      for (const shard of shards)
        expect(statSync(path.join(out, shard)).size).toBeLessThanOrEqual(SHARD_MIB * 2 ** 20);
      const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
      expect(config.rope_parameters).toMatchObject({
        rope_type: 'yarn',
        factor: 2,
        original_max_position_embeddings: 128,
      });
      expect(config.rope_scaling).toMatchObject({ type: 'yarn', factor: 2 });
      for (const f of [
        'tokenizer.json',
        'generation_config.json',
        'golden.safetensors',
        'golden-chat.safetensors',
      ])
        expect(existsSync(path.join(out, f))).toBe(true);
    });
    for (const factory of [referenceBackendFactory, cpuBackendFactory]) {
      it(`${dtype}, ${factory.name}: loads the shards and reproduces the trainer's goldens`, async () => {
        const agreement = await expectTrainerGolden(factory, path.join(dir, 'run', `export-${dtype}`));
        console.log(`demo trainer golden (toy ${dtype}, ${factory.name}): ${JSON.stringify(agreement)}`);
      }, 120_000);
    }
  }
});
