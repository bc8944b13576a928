import path from 'node:path';
import { fuzzCorpus, fuzzSettings } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel, Engine, Tokenizer } from '@dsa/runtime';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from './server.js';

const settings = fuzzSettings(process.env, 60);
const root = path.resolve(import.meta.dirname, '../../..');
const corpus = path.join(root, 'tests/fuzz-corpus/server');
let engine: Engine;
let app: ReturnType<typeof createServer>;

beforeAll(async () => {
  const dir = path.join(root, 'fixtures/tiny-chat');
  // A small cache bounds the work a valid request can ask for.
  const model = await DeepseekModel.load(new ReferenceBackend(), dir, { cacheTokens: 128 });
  const tokenizer = await Tokenizer.fromFolder(dir);
  engine = new Engine(model, { tokenizer, maxQueue: 4 });
  app = createServer({ engine, tokenizer, modelName: 'tiny', defaultMaxTokens: 2, bodyLimit: 64 * 1024 });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await engine.close();
});

const junk = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, -1, 1.5, 2 ** 31, 2 ** 53, 1e308, '', 'tiny', 'none', null, true, false, [], {}),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.jsonValue({ maxDepth: 3 }),
);

const chatFields = [
  'messages',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'frequency_penalty',
  'presence_penalty',
  'repetition_penalty',
  'seed',
  'stop',
  'stop_token_ids',
  'n',
  'stream',
  'stream_options',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'tools',
  'tool_choice',
  'reasoning',
  'reasoning_effort',
  'chat_template_kwargs',
  'model',
  'ignore_eos',
  'unknown_field',
];
const messageFields = ['role', 'content', 'reasoning_content', 'tool_calls', 'tool_call_id', 'name'];
const completionFields = [
  'prompt',
  'max_tokens',
  'temperature',
  'top_p',
  'seed',
  'stop',
  'stream',
  'logprobs',
  'echo',
  'logit_bias',
  'suffix',
  'n',
  'model',
  'stream_options',
];

/** A valid request of each route with a few fields (top-level or in a message) replaced or removed. */
const request = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.array(fc.tuple(fc.constantFrom(...chatFields), fc.option(junk, { nil: undefined })), {
          maxLength: 3,
        }),
        fc.option(fc.tuple(fc.constantFrom(...messageFields), junk), { nil: undefined }),
        fc.boolean(),
      )
      .map(([edits, messageEdit, stream]) => {
        const message: Record<string, unknown> = { role: 'user', content: 'hi' };
        if (messageEdit) message[messageEdit[0]] = messageEdit[1];
        const body: Record<string, unknown> = { messages: [message], max_tokens: 2, temperature: 0, stream };
        for (const [field, value] of edits) {
          if (value === undefined) delete body[field];
          else body[field] = value;
        }
        return { route: '/v1/chat/completions', body: JSON.stringify(body) };
      }),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.array(fc.tuple(fc.constantFrom(...completionFields), fc.option(junk, { nil: undefined })), {
          maxLength: 3,
        }),
        fc.boolean(),
      )
      .map(([edits, stream]) => {
        const body: Record<string, unknown> = { prompt: 'ab', max_tokens: 2, stream };
        for (const [field, value] of edits) {
          if (value === undefined) delete body[field];
          else body[field] = value;
        }
        return { route: '/v1/completions', body: JSON.stringify(body) };
      }),
  },
  fc.record({
    route: fc.constantFrom('/v1/chat/completions', '/v1/completions'),
    body: fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 40 }),
    ),
  }),
);

/** Property: every answer is 200 with a completion (or a clean stream), or an OpenAI-shaped 4xx; never a 5xx. */
async function check(input: { route: string; body: string }): Promise<void> {
  const response = await app.inject({
    method: 'POST',
    url: input.route,
    headers: { 'content-type': 'application/json' },
    payload: input.body,
  });
  expect(response.statusCode).toBeLessThan(500);
  if (response.statusCode !== 200) {
    expect([400, 404, 413, 429]).toContain(response.statusCode);
    const error = (response.json() as { error: Record<string, unknown> }).error;
    expect(typeof error.message).toBe('string');
    expect(typeof error.type).toBe('string');
    expect('param' in error && 'code' in error).toBe(true);
    return;
  }
  if (response.headers['content-type']?.toString().startsWith('text/event-stream')) {
    expect(response.body.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(response.body).not.toContain('"server_error"');
  } else {
    const body = response.json() as { choices: unknown[]; usage: { completion_tokens: number } };
    expect(body.choices).toHaveLength(1);
    expect(body.usage.completion_tokens).toBeGreaterThanOrEqual(0);
  }
}

describe('request schemas on hostile requests (property)', () => {
  it(
    'answers 200 or an OpenAI-shaped 4xx, never a 5xx, and holds no cache block afterwards',
    async () => {
      await fc.assert(fc.asyncProperty(request, check), { numRuns: settings.numRuns, seed: settings.seed });
      const stats = engine.stats();
      expect(stats.running).toBe(0);
      expect(stats.queueLength).toBe(0);
      expect(stats.cacheBlocksUsed).toBe(0);
    },
    settings.timeoutMs,
  );

  for (const entry of fuzzCorpus(corpus)) {
    it(`corpus: ${entry.name}`, () => check(JSON.parse(Buffer.from(entry.bytes).toString('utf8'))));
  }
});
