import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fuzzCorpus, fuzzSettings } from '@dsa/backend/testing';
import { type GgmlTypeInfo, ggmlTypeByName, ggmlTypeInfo } from '@dsa/tensor';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type FuzzOutcomes, openOrRefuse, seededBytes, u64Lie } from '../checkpoint/test-fuzz-files.js';
import { GgufFile } from './gguf-file.js';
import { GGUF_VALUE_TYPES, type GgufScalarType, type GgufValue, ggufScalarBytes } from './gguf-value.js';
import { writeGguf } from './gguf-writer.js';

const settings = fuzzSettings(process.env, 20);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-gguf-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const corpus = path.resolve(import.meta.dirname, '../../../../tests/fuzz-corpus/gguf');

/** GGML types the generator writes: plain floats and integers, 32-element blocks, K-quant super-blocks. */
const TYPES = ['F32', 'F16', 'BF16', 'F64', 'I8', 'I16', 'I32', 'I64', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'].map(
  (name) => ggmlTypeByName(name)!,
);

/** Alignments a writer may choose (`general.alignment`, a u32 power of two). */
const ALIGNMENTS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

const SCALARS = GGUF_VALUE_TYPES.filter((t) => t !== 'array') as GgufScalarType[];

/** One value of scalar type `type` that the writer stores exactly (finite floats; f32 ones 32-bit). */
function scalarOf(type: GgufScalarType): fc.Arbitrary<unknown> {
  switch (type) {
    case 'u8':
      return fc.integer({ min: 0, max: 255 });
    case 'i8':
      return fc.integer({ min: -128, max: 127 });
    case 'u16':
      return fc.integer({ min: 0, max: 65535 });
    case 'i16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'u32':
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'i32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'u64':
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case 'i64':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'f32':
      return fc.float({ noNaN: true, noDefaultInfinity: true });
    case 'f64':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'bool':
      return fc.boolean();
    case 'string':
      return fc.string({ unit: 'binary', maxLength: 6 });
  }
}

/** A metadata value of any type the writer writes: a scalar, or an array of one scalar type. */
const metadataValue: fc.Arbitrary<GgufValue> = fc.constantFrom(...SCALARS).chain((type) =>
  fc.oneof(
    scalarOf(type).map((value) => ({ type, value }) as GgufValue),
    fc
      .array(scalarOf(type), { maxLength: 4 })
      .map((value) => ({ type: 'array', itemType: type, value }) as GgufValue),
  ),
);

/** One tensor of a generated file, with its bytes. */
interface TensorSpec {
  readonly name: string;
  readonly type: GgmlTypeInfo;
  /** Outermost first; the innermost is a whole number of blocks; every dimension at least 1. */
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** A valid file: metadata (with or without `general.alignment`) and tensors. */
interface FileSpec {
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly TensorSpec[];
  readonly alignment: number;
}

const tensorSpec = fc
  .record({
    name: fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
    type: fc.constantFrom(...TYPES),
    outer: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }),
    blocks: fc.integer({ min: 1, max: 2 }),
    seed: fc.integer(),
  })
  .map(({ name, type, outer, blocks, seed }): TensorSpec => {
    const shape = [...outer, blocks * type.blockSize];
    const elements = shape.reduce((a, b) => a * b, 1);
    return { name, type, shape, bytes: seededBytes((elements / type.blockSize) * type.typeSize, seed) };
  });

const fileSpec: fc.Arbitrary<FileSpec> = fc
  .record({
    entries: fc.uniqueArray(fc.tuple(fc.string({ unit: 'binary', maxLength: 10 }), metadataValue), {
      maxLength: 6,
      selector: ([key]) => key,
    }),
    tensors: fc.uniqueArray(tensorSpec, { maxLength: 4, selector: (t) => t.name }),
    alignment: fc.option(fc.constantFrom(...ALIGNMENTS), { nil: undefined }),
    at: fc.nat(),
  })
  .map(({ entries, tensors, alignment, at }) => {
    const list = entries.filter(([key]) => key !== 'general.alignment');
    if (alignment !== undefined) {
      list.splice(at % (list.length + 1), 0, ['general.alignment', { type: 'u32', value: alignment }]);
    }
    return { metadata: new Map(list), tensors, alignment: alignment ?? 32 };
  });

/** One stored number of the header, where it is and what the error must name when it is absurd. */
interface Field {
  readonly kind:
    | 'count'
    | 'length'
    | 'value type'
    | 'item type'
    | 'alignment'
    | 'n_dims'
    | 'ne'
    | 'ggml type'
    | 'offset';
  readonly at: number;
  readonly bits: 32 | 64;
  readonly truth: bigint;
  /** The count, key or tensor an error about this field must name. */
  readonly owner: string;
}

/** Where the header keeps every count, length, type and offset, and the bytes of every string. */
interface Layout {
  readonly fields: readonly Field[];
  readonly strings: readonly { readonly owner: string; readonly at: number; readonly length: number }[];
  /** Where the header ends (before its padding). */
  readonly end: number;
}

const utf8 = new TextEncoder();

/** The layout of the header `writeGguf` writes for `spec` (GGUF v3, little-endian). */
function layoutOf(spec: FileSpec): Layout {
  const fields: Field[] = [];
  const strings: { owner: string; at: number; length: number }[] = [];
  let at = 8;
  const field = (kind: Field['kind'], bits: 32 | 64, truth: number | bigint, owner: string) => {
    fields.push({ kind, at, bits, truth: BigInt(truth), owner });
    at += bits / 8;
  };
  const string = (s: string, owner: string) => {
    const length = utf8.encode(s).byteLength;
    field('length', 64, length, owner);
    strings.push({ owner, at, length });
    at += length;
  };
  field('count', 64, spec.tensors.length, 'tensor_count');
  field('count', 64, spec.metadata.size, 'metadata_kv_count');
  let i = 0;
  for (const [key, value] of spec.metadata) {
    string(key, `metadata key ${i++}`);
    field('value type', 32, GGUF_VALUE_TYPES.indexOf(value.type), key);
    const type = value.type === 'array' ? value.itemType : value.type;
    const items = value.type === 'array' ? value.value : [value.value];
    if (value.type === 'array') {
      field('item type', 32, GGUF_VALUE_TYPES.indexOf(type), key);
      field('length', 64, items.length, key);
    }
    for (const item of items) {
      if (type === 'string') string(item as string, key);
      else if (key === 'general.alignment') field('alignment', 32, item as number, key);
      else at += ggufScalarBytes(type);
    }
  }
  let offset = 0;
  spec.tensors.forEach((t, j) => {
    string(t.name, `tensor info ${j} name`);
    field('n_dims', 32, t.shape.length, t.name);
    for (const d of [...t.shape].reverse()) field('ne', 64, d, t.name);
    field('ggml type', 32, t.type.id, t.name);
    field('offset', 64, offset, t.name);
    offset += Math.ceil(t.bytes.byteLength / spec.alignment) * spec.alignment;
  });
  return { fields, strings, end: at };
}

/** One way to break a valid file, or to change it without breaking it. */
const mutation = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('field' as const), pick: fc.nat(), lie: u64Lie() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('field32' as const), pick: fc.nat(), lie: u64Lie(32) }),
  },
  fc.record({ kind: fc.constant('overlap' as const), pick: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({
    kind: fc.constant('utf8' as const),
    pick: fc.nat(),
    at: fc.nat(),
    // Bytes that never occur in UTF-8, whatever surrounds them.
    byte: fc.constantFrom(0xc0, 0xc1, 0xf5, 0xf8, 0xfe, 0xff),
  }),
  fc.record({
    kind: fc.constant('head' as const),
    at: fc.integer({ min: 0, max: 7 }),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }),
  }),
  fc.record({
    kind: fc.constant('bytes' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('nan' as const), pick: fc.nat(), element: fc.nat(), pattern: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

/** NaN bit patterns (quiet, signalling, negative, with payloads) of the float types, little-endian. */
const NANS: Record<string, readonly number[][]> = {
  F32: [
    [0x00, 0x00, 0xc0, 0x7f],
    [0x01, 0x00, 0x80, 0x7f],
    [0xff, 0xff, 0xff, 0xff],
  ],
  F16: [
    [0x00, 0x7e],
    [0x01, 0xfc],
  ],
  BF16: [
    [0xc1, 0x7f],
    [0x81, 0xff],
  ],
  F64: [[0, 0, 0, 0, 0, 0, 0xf8, 0x7f]],
};

/** What a mutation did to the file, so the property knows what the reader must say about it. */
interface Applied {
  readonly bytes: Uint8Array;
  /** The file still describes exactly `spec` (only data bytes changed, or bytes appended). */
  readonly sameSpec: boolean;
  /** When the file must be refused: what the error must name (a field or tensor). */
  readonly mustFail?: RegExp;
  /** When the error, if any, must mention this (the field or tensor lied about). */
  readonly owner?: string;
}

function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Applies `m` to the bytes of a valid file written from `spec`, whose data starts at `dataStart`. */
function apply(spec: FileSpec, valid: Uint8Array, dataStart: number, m: Mutation): Applied {
  const bytes = valid.slice();
  const view = new DataView(bytes.buffer);
  const { fields, strings, end } = layoutOf(spec);
  const store = (f: Field, value: bigint) => {
    if (f.bits === 64) view.setBigUint64(f.at, value, true);
    else view.setUint32(f.at, Number(value & 0xffff_ffffn), true);
  };
  switch (m.kind) {
    case 'none':
      return { bytes, sameSpec: true };
    case 'field':
    case 'field32': {
      const narrow = fields.filter((f) => f.bits === 32);
      const candidates = m.kind === 'field32' && narrow.length > 0 ? narrow : fields;
      const f = candidates[m.pick % candidates.length]!;
      const value = m.lie(f.truth) & (f.bits === 64 ? 2n ** 64n - 1n : 0xffff_ffffn);
      store(f, value);
      if (value === f.truth) return { bytes, sameSpec: true };
      // A length or count past the end of the file, an unknown type or an impossible rank is refused right
      // where it is stored, naming its owner.
      const absurd =
        ((f.kind === 'count' || f.kind === 'length' || f.kind === 'offset') &&
          value > BigInt(bytes.length)) ||
        // Blocks take at least half a byte per element.
        (f.kind === 'ne' && value > 2n * BigInt(bytes.length)) ||
        (f.kind === 'ggml type' && ggmlTypeInfo(Number(value)) === undefined) ||
        ((f.kind === 'value type' || f.kind === 'item type') && value >= BigInt(GGUF_VALUE_TYPES.length)) ||
        (f.kind === 'n_dims' && (value === 0n || value > 4n)) ||
        (f.kind === 'alignment' && (value === 0n || (value & (value - 1n)) !== 0n));
      return absurd
        ? { bytes, sameSpec: false, mustFail: new RegExp(regexEscape(f.owner)), owner: f.owner }
        : { bytes, sameSpec: false, owner: f.owner };
    }
    case 'overlap': {
      const offsets = fields.filter((f) => f.kind === 'offset');
      const sized = spec.tensors.map((t, j) => ({ t, f: offsets[j]! })).filter(({ t }) => t.bytes.length > 0);
      if (sized.length < 2) return { bytes, sameSpec: true };
      const a = sized[m.pick % sized.length]!;
      const b = sized[(m.pick + 1 + (m.other % (sized.length - 1))) % sized.length]!;
      store(a.f, b.f.truth);
      return { bytes, sameSpec: false, mustFail: /overlaps tensor|runs past the end of the data section/ };
    }
    case 'truncate': {
      const keep = m.keep % bytes.length;
      // A cut before the end of the last tensor's data (or of the header) loses bytes the file needs; a cut
      // in the padding after it does not.
      const last = spec.tensors[spec.tensors.length - 1];
      const needed = last === undefined ? end : tensorStart(spec, dataStart, last) + last.bytes.byteLength;
      return { bytes: bytes.subarray(0, keep), sameSpec: false, ...(keep < needed ? { mustFail: /./ } : {}) };
    }
    case 'utf8': {
      const filled = strings.filter((s) => s.length > 0);
      if (filled.length === 0) return { bytes, sameSpec: true };
      const s = filled[m.pick % filled.length]!;
      bytes[s.at + (m.at % s.length)] = m.byte;
      return { bytes, sameSpec: false, mustFail: /not valid UTF-8/, owner: s.owner };
    }
    case 'head': {
      bytes.set(m.bytes.subarray(0, 8 - m.at), m.at);
      const magic = String.fromCharCode(...bytes.subarray(0, 4));
      const version = view.getUint32(4, true);
      if (magic !== 'GGUF') return { bytes, sameSpec: false, mustFail: /magic: expected "GGUF"/ };
      if (version !== 2 && version !== 3)
        return { bytes, sameSpec: false, mustFail: /version: GGUF version/ };
      return { bytes, sameSpec: version === 3 };
    }
    case 'bytes': {
      const at = m.at % bytes.length;
      bytes.set(m.bytes.subarray(0, bytes.length - at), at);
      return { bytes, sameSpec: at >= dataStart && at + m.bytes.length <= bytes.length };
    }
    case 'nan': {
      const floats = spec.tensors.filter((t) => NANS[t.type.name] !== undefined);
      if (floats.length === 0) return { bytes, sameSpec: true };
      const t = floats[m.pick % floats.length]!;
      const patterns = NANS[t.type.name]!;
      const pattern = patterns[m.pattern % patterns.length]!;
      const elements = t.bytes.length / t.type.typeSize;
      const at = tensorStart(spec, dataStart, t) + (m.element % elements) * t.type.typeSize;
      bytes.set(pattern, at);
      return { bytes, sameSpec: true };
    }
    case 'append': {
      const longer = new Uint8Array(bytes.length + m.bytes.length);
      longer.set(bytes);
      longer.set(m.bytes, bytes.length);
      return { bytes: longer, sameSpec: true };
    }
  }
}

/** Absolute position of `t`'s data in the file `writeGguf` wrote for `spec`. */
function tensorStart(spec: FileSpec, dataStart: number, t: TensorSpec): number {
  let offset = dataStart;
  for (const other of spec.tensors) {
    if (other === t) return offset;
    offset += Math.ceil(other.bytes.byteLength / spec.alignment) * spec.alignment;
  }
  throw new Error('tensor not in spec');
}

/** Asserts the opened `file` describes exactly `spec`: metadata in order, tensors, alignment. */
function expectSpec(file: GgufFile, spec: FileSpec): void {
  expect(file.version).toBe(3);
  expect([...file.metadata]).toEqual([...spec.metadata]);
  expect(file.alignment).toBe(spec.alignment);
  expect(
    [...file.tensors.values()].map((t) => ({ name: t.name, type: t.type.name, shape: t.shape })),
  ).toEqual(spec.tensors.map((t) => ({ name: t.name, type: t.type.name, shape: t.shape })));
}

/**
 * What must hold of any file that opened: every tensor aligned, inside the data section, sized by its type
 * and dimensions, disjoint from the others, and read back as exactly the bytes at its place in the file.
 */
async function expectConsistent(file: GgufFile, bytes: Uint8Array): Promise<void> {
  expect(file.dataStart % file.alignment).toBe(0);
  const ranges: [number, number][] = [];
  for (const t of file.tensors.values()) {
    expect(t.dims.length).toBeGreaterThanOrEqual(1);
    expect(t.dims.length).toBeLessThanOrEqual(4);
    const elements = t.dims.reduce((a, b) => a * b, 1);
    expect(t.byteLength).toBe((elements / t.type.blockSize) * t.type.typeSize);
    expect((t.byteOffset - file.dataStart) % file.alignment).toBe(0);
    expect(t.byteOffset).toBeGreaterThanOrEqual(file.dataStart);
    expect(t.byteOffset + t.byteLength).toBeLessThanOrEqual(bytes.length);
    if (t.byteLength > 0) ranges.push([t.byteOffset, t.byteOffset + t.byteLength]);
    expect(await file.read(t.name)).toEqual(bytes.subarray(t.byteOffset, t.byteOffset + t.byteLength));
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![1]);
}

/** Writes `spec` with {@link writeGguf}; returns the file's bytes and where its data starts. */
async function writeSpec(spec: FileSpec): Promise<{ bytes: Uint8Array; dataStart: number }> {
  const target = path.join(tmp, 'valid.gguf');
  await writeGguf(
    target,
    spec.metadata,
    spec.tensors.map((t) => ({ name: t.name, type: t.type, shape: t.shape, data: async () => t.bytes })),
  );
  const bytes = new Uint8Array(fs.readFileSync(target));
  await using file = await GgufFile.open(target);
  return { bytes, dataStart: file.dataStart };
}

const outcomes: FuzzOutcomes = { opened: 0, refused: 0 };

/**
 * Property on raw bytes: `GgufFile.open` either opens a consistent file or throws a CheckpointError naming
 * the file and the field or tensor. `expected` says more when the bytes came from a known mutation.
 */
async function check(bytes: Uint8Array, name: string, expected?: Applied, spec?: FileSpec): Promise<void> {
  await openOrRefuse(
    path.join(tmp, name),
    bytes,
    GgufFile.open,
    outcomes,
    async (opened) => {
      expect(expected?.mustFail).toBeUndefined();
      await expectConsistent(opened, bytes);
      if (expected?.sameSpec && spec) expectSpec(opened, spec);
    },
    (e) => {
      if (expected?.mustFail) expect(e.message).toMatch(expected.mustFail);
      if (expected?.owner !== undefined && expected.mustFail) expect(e.message).toContain(expected.owner);
    },
  );
}

describe('GgufFile on generated files (property)', () => {
  it(
    'valid files round-trip through writeGguf and GgufFile exactly: metadata, tensor infos, tensor bytes',
    async () => {
      await fc.assert(
        fc.asyncProperty(fileSpec, async (spec) => {
          const { bytes } = await writeSpec(spec);
          const target = path.join(tmp, 'round-trip.gguf');
          fs.writeFileSync(target, bytes);
          await using file = await GgufFile.open(target);
          expectSpec(file, spec);
          for (const t of spec.tensors) expect(await file.read(t.name)).toEqual(t.bytes);
        }),
        { numRuns: settings.numRuns, seed: settings.seed },
      );
    },
    settings.timeoutMs,
  );

  it(
    'mutated files open consistently or throw a CheckpointError naming the file and what is wrong',
    async () => {
      await fc.assert(
        fc.asyncProperty(fileSpec, mutation, async (spec, m) => {
          const { bytes, dataStart } = await writeSpec(spec);
          const applied = apply(spec, bytes, dataStart, m);
          await check(applied.bytes, 'fuzz.gguf', applied, spec);
        }),
        { numRuns: settings.numRuns, seed: settings.seed, timeout: 5_000 },
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
