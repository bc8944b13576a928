import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderFiles, type MockHub, startMockHub } from './hub/test-mock-hub.js';
import { capture } from './test-capture.js';

const fixture = path.resolve(import.meta.dirname, '../../../fixtures/tiny-chat');
let hub: MockHub;
let home: string;
const saved = {
  HF_HOME: process.env.HF_HOME,
  HF_ENDPOINT: process.env.HF_ENDPOINT,
  HF_TOKEN: process.env.HF_TOKEN,
};

beforeAll(async () => {
  hub = await startMockHub('dsa-test/tiny-chat', folderFiles(fixture), { token: 'hf_clitoken' });
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-hf-home-'));
  Object.assign(process.env, { HF_HOME: home, HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_clitoken' });
});
afterAll(async () => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await hub.close();
  fs.rmSync(home, { recursive: true, force: true });
});

describe('dsa pull, then --model ORG/NAME', () => {
  it('pulls into HF_HOME from HF_ENDPOINT with HF_TOKEN and prints the snapshot folder', async () => {
    const { code, stdout, stderr } = await capture(['pull', 'dsa-test/tiny-chat']);
    expect(stderr).toBe(`fetched config.json (0.0 MB)
fetched model.safetensors (2.4 MB)
fetched tokenizer.json (0.0 MB)
fetched tokenizer_config.json (0.0 MB)
dsa-test/tiny-chat@main = ${hub.commit}: 4 file(s) fetched, 0 already cached
`);
    expect(code).toBe(0);
    expect(stdout).toBe(`${path.join(home, 'hub/models--dsa-test--tiny-chat/snapshots', hub.commit)}\n`);
    expect(hub.requests.every((r) => r.authorization === 'Bearer hf_clitoken')).toBe(true);
  });

  it('generates from the pulled model exactly as from the local folder', async () => {
    const args = ['--ids', '1,2,3', '--max-tokens', '4', '--backend', 'reference', '--json', '-q'];
    const local = await capture(['generate', '--model', fixture, ...args]);
    const pulled = await capture(['generate', '--model', 'dsa-test/tiny-chat', ...args]);
    expect(pulled.code).toBe(0);
    expect(JSON.parse(pulled.stdout).tokens).toHaveLength(4);
    expect(pulled.stdout).toBe(local.stdout);
  }, 60_000);

  it('a model that was not pulled is a usage error that says how to pull it', async () => {
    const { code, stderr } = await capture([
      'generate',
      '--model',
      'dsa-test/other',
      '--ids',
      '1',
      '--max-tokens',
      '1',
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('run `dsa pull dsa-test/other` first');
    const bad = await capture(['pull', 'not-a-hub-name']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      '"not-a-hub-name" is not a hub name: expected ORG/NAME or ORG/NAME@REVISION',
    );
  });
});
