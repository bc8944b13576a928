import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DsaError } from '@dsa/backend';
import { fuzzSettings } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { u64Lie } from '../checkpoint/test-fuzz-files.js';
import { DeepseekModel } from '../model/deepseek-model.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { convertToGguf, type GgufOutputType } from './gguf-export.js';
import { GgufFile } from './gguf-file.js';

// Loading a whole model is slower than opening a file: a tenth of the cases of the reader's properties.
const base = fuzzSettings(process.env, 200);
const settings = { ...base, numRuns: Math.max(10, Math.ceil(base.numRuns / 10)) };
const TINY_CHAT = path.resolve(import.meta.dirname, '../../../../fixtures/tiny-chat');

let tmp: string;
/** The tiny model as GGUF files of two weight types, with where their tensors' data lies. */
const models: {
  bytes: Uint8Array;
  dataStart: number;
  tensors: { at: number; length: number; type: string }[];
}[] = [];
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-gguf-model-fuzz-'));
  for (const type of ['bf16', 'q8_0'] as GgufOutputType[]) {
    const file = path.join(tmp, `tiny-${type}.gguf`);
    await convertToGguf(TINY_CHAT, file, { type });
    await using opened = await GgufFile.open(file);
    models.push({
      bytes: new Uint8Array(fs.readFileSync(file)),
      dataStart: opened.dataStart,
      tensors: [...opened.tensors.values()].map((t) => ({
        at: t.byteOffset,
        length: t.byteLength,
        type: t.type.name,
      })),
    });
  }
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** One way to break a model file: anywhere in its header, its data, or its length. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({
    kind: fc.constant('u64' as const),
    at: fc.nat(),
    lie: u64Lie(),
    bits: fc.constantFrom(32 as const, 64 as const),
  }),
  fc.record({
    kind: fc.constant('bytes' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant('data' as const),
    pick: fc.nat(),
    element: fc.nat(),
    // NaN, -Inf and the largest finite patterns of bf16 (and in Q8_0's f16 scales).
    pattern: fc.constantFrom([0xc1, 0x7f], [0x80, 0xff], [0x7f, 0x7f], [0x00, 0x7e], [0x00, 0x7c]),
  }),
);

/** The bytes of model `model` broken by `m` (header mutations land inside the header). */
function broken(model: (typeof models)[number], m: Mutation): Uint8Array {
  const bytes = model.bytes.slice();
  const view = new DataView(bytes.buffer);
  switch (m.kind) {
    case 'truncate':
      return bytes.subarray(0, m.keep % bytes.length);
    case 'u64': {
      const at = m.at % (model.dataStart - 8);
      const truth = m.bits === 64 ? view.getBigUint64(at, true) : BigInt(view.getUint32(at, true));
      if (m.bits === 64) view.setBigUint64(at, m.lie(truth), true);
      else view.setUint32(at, Number(m.lie(truth) & 0xffff_ffffn), true);
      return bytes;
    }
    case 'bytes':
      bytes.set(m.bytes.subarray(0, model.dataStart - (m.at % model.dataStart)), m.at % model.dataStart);
      return bytes;
    case 'data': {
      const t = model.tensors[m.pick % model.tensors.length]!;
      bytes.set(m.pattern, t.at + 2 * (m.element % Math.max(1, Math.floor(t.length / 2))));
      return bytes;
    }
  }
}
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

/** Loads, disposes; an error must be one of ours and name the file. */
async function expectLoadsOrNamedError(load: () => Promise<{ dispose?: () => void }>, file: string) {
  try {
    const loaded = await load();
    loaded.dispose?.();
    return 'loaded';
  } catch (error) {
    expect(error).toBeInstanceOf(DsaError);
    expect((error as Error).message).toContain(file);
    return 'refused';
  }
}

describe('DeepseekModel.load and Tokenizer.fromModel on mutated GGUF models (property)', () => {
  it(
    'load, or throw our typed error naming the file; never crash or hang',
    async () => {
      const outcomes = { loaded: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(fc.nat(), mutation, async (pick, m) => {
          const target = path.join(tmp, 'fuzz.gguf');
          fs.writeFileSync(target, broken(models[pick % models.length]!, m));
          const model = await expectLoadsOrNamedError(
            () => DeepseekModel.load(new ReferenceBackend(), target, { cacheTokens: 64 }),
            target,
          );
          outcomes[model]++;
          await expectLoadsOrNamedError(() => Tokenizer.fromModel(target).then(() => ({})), target);
        }),
        { numRuns: settings.numRuns, seed: settings.seed, timeout: 20_000 },
      );
      // Both outcomes: data changes (NaN, infinities) load, header damage is refused.
      expect(outcomes.loaded).toBeGreaterThan(0);
      expect(outcomes.refused).toBeGreaterThan(0);
    },
    Math.max(60_000, settings.timeoutMs),
  );
});
