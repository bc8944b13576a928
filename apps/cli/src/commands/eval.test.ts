import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { capture } from '../test-capture.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../../fixtures');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-eval-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('dsa eval', () => {
  it('--generate writes recall data; evaluating it prints one JSON line per setting with the stable keys', async () => {
    const data = path.join(dir, 'recall.jsonl');
    const gen = await capture(['eval', '--task', 'recall', '--generate', '48,4,2,3,7', '--data', data, '-q']);
    expect(gen.code).toBe(0);
    expect(fs.readFileSync(data, 'utf8').trim().split('\n')).toHaveLength(3);
    const result = await capture([
      'eval',
      '--model',
      path.join(FIXTURES, 'tiny'),
      '--backend',
      'reference',
      '--data',
      data,
      '--selector',
      'indexer,random',
      '--topk-policy',
      'fixed,mass:0.5',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const rows = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => [r.attention, r.selector, r.topk, r.topk_policy])).toEqual([
      ['dense', null, null, null],
      ['sparse', 'indexer', 32, 'fixed'],
      ['sparse', 'indexer', 32, 'mass:0.5'],
      ['sparse', 'random', 32, 'fixed'],
    ]);
    for (const r of rows) {
      expect(Object.keys(r)).toEqual([
        'task',
        'attention',
        'selector',
        'topk',
        'topk_policy',
        'context',
        'metric',
        'value',
        'indexer_recall',
        'attended_tokens_mean',
        'n',
      ]);
      expect(r).toMatchObject({ task: 'recall', context: 48, metric: 'accuracy', n: 6 });
    }
    expect(rows[0].indexer_recall).toBeNull();
    expect(rows[1].indexer_recall).toBeGreaterThan(0);
    expect(rows[2].attended_tokens_mean).toBeLessThan(32);
  });

  it('bad data names the file, line and field; bad flags are usage errors', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(
      bad,
      '{"ids": [0, 5, 7], "answers": [[2, 7]]}\n{"ids": [0, 5, 7], "answers": [[9, 7]]}\n',
    );
    const result = await capture(['eval', '--model', path.join(FIXTURES, 'tiny'), '--data', bad, '-q']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${bad}:2: field "answers[0][0]": position 9 is outside 1..2`);
    const policy = await capture(['eval', '--model', 'x', '--data', bad, '--topk-policy', 'mass:2']);
    expect(policy.code).toBe(2);
    expect(policy.stderr).toContain('--topk-policy');
    const gen = await capture(['eval', '--generate', '10,8,2,1,1', '--data', bad]);
    expect(gen.code).toBe(2);
    expect(gen.stderr).toContain('2P <= L');
  });
});
