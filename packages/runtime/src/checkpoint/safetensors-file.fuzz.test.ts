import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fuzzCorpus, fuzzSettings } from '@dsa/backend/testing';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from './safetensors-file.js';
import { type FuzzOutcomes, openOrRefuse, u64Lie } from './test-fuzz-files.js';

const settings = fuzzSettings();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-st-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const corpus = path.resolve(import.meta.dirname, '../../../../tests/fuzz-corpus/safetensors');

/** Element sizes of the dtypes the reader knows. */
const SIZES: Record<string, number> = { F32: 4, BF16: 2, F16: 2, F8_E4M3: 1, I32: 4, I64: 8, U8: 1, BOOL: 1 };

/** A consistent file: tensors of known dtypes laid out back to back, with metadata. */
const validParts = fc
  .tuple(
    fc.array(
      fc.tuple(
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.constantFrom(...Object.keys(SIZES)),
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
      ),
      { maxLength: 4 },
    ),
    fc.option(fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 })),
  )
  .map(([tensors, metadata]) => {
    const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
    let offset = 0;
    for (const [name, dtype, shape] of tensors) {
      if (name === '__metadata__' || name in header) continue;
      const bytes = shape.reduce((a, b) => a * b, 1) * SIZES[dtype]!;
      header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
    }
    return { header, dataBytes: offset };
  });

/** A hostile value for one header field. */
const junk = fc.oneof(
  fc.integer(),
  fc.constantFrom(-1, 2 ** 53, 2 ** 64, 1.5, Number.MAX_VALUE),
  fc.string({ maxLength: 6 }),
  fc.jsonValue({ maxDepth: 2 }),
);

/** One way to break a file, or none. */
const mutation = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
  fc.record({
    kind: fc.constant('field' as const),
    tensor: fc.nat(),
    field: fc.constantFrom('dtype', 'shape', 'data_offsets', 'extra'),
    value: junk,
  }),
  fc.record({ kind: fc.constant('text' as const), at: fc.nat(), text: fc.string({ maxLength: 3 }) }),
  fc.record({ kind: fc.constant('length' as const), lie: u64Lie() }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ kind: fc.constant('data' as const), extra: fc.integer({ min: -16, max: 16 }) }),
);

/** The bytes of a file: a consistent one, broken in at most one way, or plain noise. */
const file = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(validParts, mutation, fc.uint8Array({ maxLength: 600 })).map(([parts, m, noise]) => {
      const header = structuredClone(parts.header) as Record<string, Record<string, unknown>>;
      const names = Object.keys(header).filter((n) => n !== '__metadata__');
      if (m.kind === 'field' && names.length > 0) header[names[m.tensor % names.length]!]![m.field] = m.value;
      let text = JSON.stringify(header);
      if (m.kind === 'text') {
        const at = m.at % (text.length + 1);
        text = text.slice(0, at) + m.text + text.slice(at + m.text.length);
      }
      const head = Buffer.from(text, 'utf8');
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(m.kind === 'length' ? m.lie(BigInt(head.length)) : BigInt(head.length));
      const dataBytes = Math.max(0, parts.dataBytes + (m.kind === 'data' ? m.extra : 0));
      const data = new Uint8Array(dataBytes).map((_, i) => noise[i % Math.max(1, noise.length)] ?? i);
      const whole = new Uint8Array(Buffer.concat([prefix, head, data]));
      return m.kind === 'truncate' ? whole.subarray(0, m.keep % (whole.length + 1)) : whole;
    }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
);

const outcomes: FuzzOutcomes = { opened: 0, refused: 0 };

/** Property: open succeeds and every tensor reads its declared bytes, or a CheckpointError names the file. */
async function check(bytes: Uint8Array, name: string): Promise<void> {
  await openOrRefuse(path.join(tmp, name), bytes, SafetensorsFile.open, outcomes, async (opened) => {
    for (const info of opened.tensors.values()) {
      expect(info.byteOffset + info.byteLength).toBeLessThanOrEqual(bytes.length);
      expect((await opened.read(info.name)).byteLength).toBe(info.byteLength);
    }
  });
}

describe('SafetensorsFile.open on hostile files (property)', () => {
  it(
    'opens or throws CheckpointError naming the file; opened tensors lie inside the file',
    async () => {
      await fc.assert(
        fc.asyncProperty(file, (bytes) => check(bytes, 'fuzz.safetensors')),
        { numRuns: settings.numRuns, seed: settings.seed },
      );
      // Both outcomes must be common, or the property tests little.
      expect(outcomes.opened).toBeGreaterThan(settings.numRuns / 20);
      expect(outcomes.refused).toBeGreaterThan(settings.numRuns / 20);
    },
    settings.timeoutMs,
  );

  for (const entry of fuzzCorpus(corpus)) {
    it(`corpus: ${entry.name}`, () => check(entry.bytes, entry.name));
  }
});
