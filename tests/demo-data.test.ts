// The dsa-demo data tooling (tools/demo-model): its Python unit tests (cleaning filters, chat rendering, pair
// templates; standard library only, no network), and, where the data has been built (build_corpus.sh), the
// engine loading the dsa-demo tokenizer exactly like DeepSeek's and rendering chat prompts with it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { renderChatPrompt, Tokenizer } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const python = [process.env.DSA_PYTHON, '/usr/bin/python3', 'python3']
  .filter((c): c is string => Boolean(c))
  .find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
/** Built data: DSA_DEMO_DATA, else <repo>/.demo/data (git-ignored; absent in CI, where this suite skips). */
const dataDir = process.env.DSA_DEMO_DATA ?? path.join(root, '.demo/data');
const built = existsSync(path.join(dataDir, 'tokenizer.json'));

interface EncodeCase {
  readonly name: string;
  readonly thinking_mode: 'chat' | 'thinking';
  readonly messages: { role: string; content: string }[];
  readonly options: Record<string, unknown>;
  readonly prompt: string;
}
const fixture = JSON.parse(
  readFileSync(path.join(root, 'fixtures/chat/deepseek-v32-encoding.json'), 'utf8'),
) as { encode_cases: EncodeCase[] };

describe.skipIf(!python)('tools/demo-model Python unit tests', () => {
  it('pass (tokenizer checks skip without the tokenizers package or built data)', () => {
    const r = spawnSync(
      python!,
      ['-m', 'unittest', 'discover', '-s', 'tools/demo-model', '-p', 'test_*.py'],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, DSA_DEMO_DATA: dataDir },
      },
    );
    expect(r.stderr).toMatch(/\nOK/);
    expect(r.status).toBe(0);
  });
});

describe.skipIf(!built)(`dsa-demo tokenizer in the engine (${dataDir})`, () => {
  it('has DeepSeek special ids, 8,192 entries and add_bos_token', async () => {
    const tok = await Tokenizer.fromFolder(dataDir);
    expect(tok.vocabSize).toBe(8192);
    expect([tok.bosTokenId, tok.eosTokenId, tok.addBosToken]).toEqual([0, 1, true]);
    expect(tok.chatTemplate).toBeUndefined();
    expect(['<｜User｜>', '<｜Assistant｜>', '<think>', '</think>'].map((t) => tok.tokenToId(t))).toEqual([
      3, 4, 5, 6,
    ]);
  });

  it('renders every chat-mode fixture prompt with the V3.2 encoder and round-trips it', async () => {
    const tok = await Tokenizer.fromFolder(dataDir);
    const simple = fixture.encode_cases.filter(
      (c) => Object.keys(c.options).length === 0 && c.messages.every((m) => !('tools' in m)),
    );
    expect(simple.length).toBeGreaterThan(3);
    for (const c of fixture.encode_cases) {
      const ids = tok.encode(c.prompt);
      expect(tok.decode(ids), c.name).toBe(c.prompt);
    }
    for (const c of simple) {
      const prompt = renderChatPrompt(tok, c.messages as never, { thinking: c.thinking_mode });
      expect(prompt, c.name).toBe(c.prompt);
    }
    const single = fixture.encode_cases.find((c) => c.name === 'user_single_chat')!;
    const ids = tok.encode(single.prompt);
    expect([ids[0], ids[1], ids.at(-2), ids.at(-1)]).toEqual([0, 3, 4, 6]);
  });

  it('encodes the held-out chat conversations to the ids the Python encoder wrote', async () => {
    const tok = await Tokenizer.fromFolder(dataDir);
    const bytes = readFileSync(path.join(dataDir, 'chat-heldout.u16'));
    const all = Array.from(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2));
    // Conversations start at each BOS (id 0); check the first 50.
    const starts = all.flatMap((id, i) => (id === 0 ? [i] : [])).slice(0, 51);
    for (let k = 0; k + 1 < starts.length; k++) {
      const ids = all.slice(starts[k], starts[k + 1]);
      expect(tok.encode(tok.decode(ids)), `conversation ${k}`).toEqual(ids);
    }
  });
});
