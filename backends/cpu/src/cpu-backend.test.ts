import { readFileSync } from 'node:fs';
import { type Backend, createBackend, downloadTensor, KernelArgumentError, uploadTensor } from '@dsa/backend';
import { uploadBatch } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { narrow, permute, select, type TensorView, tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import type { CpuBuffer } from './cpu-buffer.js';
import { runnableIsas } from './cpu-settings.js';
import cpuBackendFactory, { createCpuBackendFactory } from './index.js';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;
// The kernel sets this CPU runs, each tested where a kernel has one per set.
const ISAS = runnableIsas(native.addon.info().isa);

describe('cpu backend factory', () => {
  it('probes with score 10 and names the ISA and threads', async () => {
    const { score, reason } = await cpuBackendFactory.probe();
    expect(score).toBe(10);
    expect(reason).toMatch(/^native addon loaded, (AVX-512|AVX2|portable) \/ \d+ threads/);
  });

  it('probes 0 with the load error, and create() explains, when the addon cannot load', async () => {
    const missing = createCpuBackendFactory(() => loadNative('/nonexistent/dsa-backend-cpu'));
    const { score, reason } = await missing.probe();
    expect(score).toBe(0);
    expect(reason).toMatch(/^native addon failed to load: /);
    await expect(missing.create()).rejects.toThrow(/native addon failed to load/);
    const throwing = createCpuBackendFactory(() => {
      throw new Error('boom');
    });
    expect(await throwing.probe()).toEqual({ score: 0, reason: 'native addon failed: boom' });
  });

  it('is picked by createBackend over the reference backend', async () => {
    const backend = await createBackend({ backend: 'auto', factories: [cpuBackendFactory], threads: 2 });
    expect(backend.name).toBe('cpu');
    expect(backend.device.description).toMatch(/2 threads/);
    expect([...backend.capabilities.fused].sort()).toEqual([
      'addRmsNorm',
      'indexerTopk',
      'linears',
      'mlaAttention',
      'moeExperts',
      'moeRoute',
      'swiglu',
    ]);
    expect(Object.keys(backend.fused).sort()).toEqual([...backend.capabilities.fused].sort());
    backend.dispose();
  });

  it('rejects bad options', () => {
    expect(() => new CpuBackend(native.addon, { threads: 0 })).toThrow(KernelArgumentError);
    expect(() => new CpuBackend(native.addon, { settings: { isa: 'sse9' } })).toThrow(
      /settings\.isa: "sse9" is not one of portable, avx2, avx512/,
    );
  });

  it('offers the contract diagnostics: its kernel set and threads, a bandwidth probe, a kernel profile', () => {
    const backend: Backend = new CpuBackend(native.addon, { threads: 2, settings: { isa: 'portable' } });
    expect(backend.compute).toEqual({ isa: 'portable', threads: 2 });
    expect(typeof backend.memoryReadBandwidth).toBe('function');
    expect(backend.kernelProfile?.read()).toEqual([]); // kernel-profile.test.ts times with it
    backend.dispose();
  });
});

describe('FMA peak probe', () => {
  it('measures each kernel set: scalar below 16-lane AVX-512, both within what a core can issue', () => {
    const rate = (isa: 'portable' | 'avx512') => {
      const backend = new CpuBackend(native.addon, { threads: 1, settings: { isa } });
      try {
        return backend.fmaPeak();
      } finally {
        backend.dispose();
      }
    };
    const scalar = rate('portable');
    expect(scalar).toBeGreaterThan(0.5);
    // one core: at most 4 scalar FP ops and 2 FMA pipes of 16 lanes per cycle, at most 6 GHz
    expect(scalar).toBeLessThan(4 * 6);
    if (native.addon.info().isa >= 2) {
      const wide = rate('avx512');
      expect(wide).toBeGreaterThan(4 * scalar);
      expect(wide).toBeLessThan(2 * 16 * 2 * 6);
    }
  });
});

describe('memory read bandwidth probe', () => {
  it('returns a positive GB/s and rejects bad sizes', () => {
    const backend = new CpuBackend(native.addon, { threads: 2 });
    try {
      const gbs = backend.memoryReadBandwidth(64 << 20);
      expect(gbs).toBeGreaterThan(0);
      expect(Number.isFinite(gbs)).toBe(true);
      expect(() => backend.memoryReadBandwidth(0)).toThrow(KernelArgumentError);
    } finally {
      backend.dispose();
    }
  });
});

describe('cpu buffers', () => {
  const backend = new CpuBackend(native.addon, { threads: 2 });

  it('uploads and downloads any dtype at an offset; activations start zeroed', async () => {
    const buffer = backend.allocate(64, 'activations');
    const zeros = new Uint8Array(64);
    await backend.download(tensorView(buffer, 'u8', [64]), zeros);
    expect(zeros.every((v) => v === 0)).toBe(true);
    const view = tensorView(buffer, 'bf16', [3], 8);
    backend.upload(view, Uint16Array.from([0x3f80, 0x4000, 0xc040]));
    const back = new Uint16Array(3);
    await backend.download(view, back);
    expect(Array.from(back)).toEqual([0x3f80, 0x4000, 0xc040]);
    const f32 = tensorView(backend.allocate(12, 'activations'), 'f32', [3]);
    backend.kernels.cast(f32, view);
    const values = new Float32Array(3);
    await backend.download(f32, values);
    expect(Array.from(values)).toEqual([1, 2, -3]);
  });

  it('downloads a large view (copied over the pool in 64 KB pieces) byte for byte, eager and queued', async () => {
    // 3 MB + 5 bytes at an odd offset: many pieces over two threads and a short last one.
    const bytes = 3 * 2 ** 20 + 5;
    const source = Uint8Array.from({ length: bytes }, (_, i) => (i * 2654435761) >>> 24);
    for (const execution of ['synchronous', 'queued'] as const) {
      const cpu = new CpuBackend(native.addon, { threads: 2, settings: { execution } });
      try {
        const view = tensorView(cpu.allocate(bytes + 7, 'activations'), 'u8', [bytes], 7);
        cpu.upload(view, source);
        const back = new Uint8Array(bytes);
        await cpu.download(view, back);
        expect(
          back.findIndex((v, i) => v !== source[i]),
          execution,
        ).toBe(-1);
      } finally {
        cpu.dispose();
      }
    }
  });

  it('copies between strided views and refuses non-contiguous transfers', async () => {
    const a = uploadTensor(backend, 'f32', [2, 3], [1, 2, 3, 4, 5, 6]);
    const b = uploadTensor(backend, 'f32', [3, 2], [0, 0, 0, 0, 0, 0]);
    backend.copy(b, permute(a, [1, 0]));
    const out = new Float32Array(6);
    await backend.download(b, out);
    expect(Array.from(out)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(() => backend.upload(narrow(a, 1, 0, 2), new Float32Array(4))).toThrow(/contiguous/);
    expect(() => backend.upload(a, new Float32Array(5))).toThrow(/needs 24/);
  });

  it('refuses views of other backends, disposed buffers and out-of-range views', () => {
    const foreign = uploadTensor(new ReferenceBackend(), 'f32', [2], [1, 2]);
    const out = tensorView(backend.allocate(8, 'activations'), 'f32', [2]);
    expect(() => backend.kernels.unary(out, foreign, 'neg')).toThrow(/not on the cpu backend/);
    const gone = uploadTensor(backend, 'f32', [2], [1, 2]);
    (gone.buffer as CpuBuffer).dispose();
    expect(() => backend.kernels.unary(out, gone, 'neg')).toThrow(/disposed/);
    const small = backend.allocate(8, 'activations');
    const tooLong = { ...tensorView(small, 'f32', [2]), shape: [4] };
    expect(() => backend.kernels.fill(tooLong, 1)).toThrow(KernelArgumentError);
  });

  it("reports a kernel's own argument errors at the next wait, with the kernel name", async () => {
    const x = uploadTensor(backend, 'f32', [2, 3], [1, 2, 3, 4, 5, 6]);
    const table = uploadTensor(backend, 'f32', [4, 3], new Array(12).fill(0));
    const out = tensorView(backend.allocate(24, 'activations'), 'f32', [2, 3]);
    backend.kernels.gatherRows(out, table, uploadTensor(backend, 'i32', [2], [0, 4]));
    await expect(backend.synchronize()).rejects.toThrow(
      /gatherRows: index 4 at position 1 is outside \[0, 4\)/,
    );
    const weight = uploadTensor(backend, 'f32', [3, 2], new Array(6).fill(0));
    backend.kernels.linear(out, x, { weight });
    const sink = new Float32Array(6);
    await expect(backend.download(out, sink)).rejects.toThrow(
      /linear: x f32\[2, 3\] does not match weight f32\[3, 2\]/,
    );
    await expect(backend.synchronize()).resolves.toBeUndefined(); // reported once
  });

  it("throws a kernel's own argument errors from the call in synchronous mode", () => {
    const sync = new CpuBackend(native.addon, { threads: 2, settings: { execution: 'synchronous' } });
    try {
      expect(sync.capabilities.asyncCopy).toBe(false);
      const x = uploadTensor(sync, 'f32', [2, 3], [1, 2, 3, 4, 5, 6]);
      const table = uploadTensor(sync, 'f32', [4, 3], new Array(12).fill(0));
      const out = tensorView(sync.allocate(24, 'activations'), 'f32', [2, 3]);
      expect(() => sync.kernels.gatherRows(out, table, uploadTensor(sync, 'i32', [2], [0, 4]))).toThrow(
        /gatherRows: index 4 at position 1 is outside \[0, 4\)/,
      );
      expect(() =>
        sync.kernels.linear(out, x, { weight: uploadTensor(sync, 'f32', [3, 2], new Array(6).fill(0)) }),
      ).toThrow(/linear: x f32\[2, 3\] does not match weight f32\[3, 2\]/);
      // moeExperts names the routed expert's projection that is wrong; experts nobody picked are not read.
      const weight = (dtype: 'f32' | 'bf16', rows: number, cols: number) => ({
        weight: uploadTensor(sync, dtype, [rows, cols], new Array(rows * cols).fill(0.5)),
      });
      const expert = (inter = 2) => ({
        gate: weight('f32', inter, 3),
        up: weight('f32', inter, 3),
        down: weight('f32', 3, inter),
      });
      const indices = uploadTensor(sync, 'i32', [2, 1], [2, 0]);
      const routing = uploadTensor(sync, 'f32', [2, 1], [0.5, 0.25]);
      const moe = (experts: ReturnType<typeof expert>[]) => () =>
        sync.fused.moeExperts!(out, x, indices, routing, experts);
      const skewed = { ...expert(), down: weight('f32', 3, 4) };
      expect(moe([expert(), expert(), skewed])).toThrow(
        /experts\[2\]\.down\.weight is f32\[3, 4\], expected \[3, 2\]/,
      );
      const f8 = {
        ...expert(),
        up: { weight: uploadTensor(sync, 'f8_e4m3', [2, 3], new Array(6).fill(0.5)) },
      };
      expect(moe([f8, expert(), expert()])).toThrow(
        /experts\[0\]\.up\.weight: f8_e4m3 weight without scaleInv/,
      );
      const scaled = {
        ...expert(),
        gate: { ...weight('bf16', 2, 3), scaleInv: uploadTensor(sync, 'f32', [1, 1], [1]) },
      };
      expect(moe([expert(), expert(), scaled])).toThrow(
        /experts\[2\]\.gate\.weight: scaleInv given for a bf16 weight/,
      );
      expect(moe([expert(), skewed, expert()])()).toBeUndefined(); // expert 1 is not routed to
      // Twelve routed experts are resolved over the threads; of two bad ones the lower is named, whichever
      // thread met the other first.
      const twelve = Array.from({ length: 12 }, (_, e) => (e === 5 || e === 10 ? skewed : expert()));
      const all = uploadTensor(sync, 'i32', [2, 6], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      const even = uploadTensor(sync, 'f32', [2, 6], new Array(12).fill(0.125));
      for (let run = 0; run < 20; run++)
        expect(() => sync.fused.moeExperts!(out, x, all, even, twelve)).toThrow(
          /experts\[5\]\.down\.weight is f32\[3, 4\], expected \[3, 2\]/,
        );
      expect(() =>
        sync.fused.moeExperts!(out, x, uploadTensor(sync, 'i32', [2, 1], [3, 0]), routing, [
          expert(),
          expert(),
          expert(),
        ]),
      ).toThrow(/indices\[0, 0\] = 3: router picked expert 3 of 3/);
    } finally {
      sync.dispose();
    }
    expect(() => new CpuBackend(native.addon, { settings: { execution: 'eager' } })).toThrow(
      /settings\.execution: "eager" is not one of queued, synchronous/,
    );
  });

  it('packs weights into shared slabs: each keeps its bytes whatever is freed around it; caches start zeroed', async () => {
    // Sizes from 16 KB to 6 MB: enough to fill several 32 MB slabs; a 20 MB one gets a mapping of its own.
    const sizes = [16384, 65536, 3 << 20, 100_000, 6 << 20, 20 << 20, 1 << 20, 777_777, 5 << 20, 4 << 20];
    const pattern = (bytes: number, seed: number) =>
      Uint8Array.from({ length: bytes }, (_, i) => ((i + seed) * 2654435761) >>> 24);
    const live = new Map<CpuBuffer, number>();
    const check = async () => {
      for (const [buffer, seed] of live) {
        const back = new Uint8Array(buffer.byteLength);
        await backend.download(tensorView(buffer, 'u8', [buffer.byteLength]), back);
        expect(Buffer.compare(back, pattern(buffer.byteLength, seed))).toBe(0);
      }
    };
    let seed = 0;
    const add = (bytes: number) => {
      const buffer = backend.allocate(bytes, 'weights');
      backend.upload(tensorView(buffer, 'u8', [bytes]), pattern(bytes, ++seed));
      live.set(buffer, seed);
    };
    for (let round = 0; round < 3; round++) for (const bytes of sizes) add(bytes);
    await check();
    // Free every other buffer (emptying some slabs, not others), then allocate again into what is left.
    [...live.keys()].forEach((buffer, i) => {
      if (i % 2 === 0) {
        buffer.dispose();
        live.delete(buffer);
      }
    });
    for (const bytes of sizes) add(bytes);
    await check();
    const cache = backend.allocate(24 << 20, 'kv-cache');
    const zeros = new Uint8Array(cache.byteLength);
    await backend.download(tensorView(cache, 'u8', [cache.byteLength]), zeros);
    expect(zeros.every((v) => v === 0)).toBe(true);
    cache.dispose();
    for (const buffer of live.keys()) buffer.dispose();
    live.clear();
    // With every piece freed, the slab being filled is filled again from its start.
    for (const bytes of sizes) add(bytes);
    await check();
    for (const buffer of live.keys()) buffer.dispose();
  });

  const thp = (() => {
    try {
      return /\[(always|madvise)\]/.test(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'));
    } catch {
      return false;
    }
  })();
  const hugeBytes = () => {
    const rollup = readFileSync('/proc/self/smaps_rollup', 'utf8');
    return Number(/AnonHugePages:\s+(\d+) kB/.exec(rollup)?.[1] ?? 0) * 1024;
  };
  it.skipIf(!thp)('puts large buffers and small weights in huge pages where Linux grants them', () => {
    const before = hugeBytes();
    const cache = backend.allocate(64 << 20, 'kv-cache');
    backend.upload(tensorView(cache, 'u8', [cache.byteLength]), new Uint8Array(cache.byteLength).fill(1));
    const afterCache = hugeBytes();
    // 128 weights of 512 KB (64 MB): each far below a huge page, together in slabs of 32 MB. The first slab may
    // be one an earlier test filled (its pages counted before), so only 32 MB are sure to be new.
    const weights = Array.from({ length: 128 }, () => {
      const w = backend.allocate(512 << 10, 'weights');
      backend.upload(tensorView(w, 'u8', [w.byteLength]), new Uint8Array(w.byteLength).fill(2));
      return w;
    });
    const afterWeights = hugeBytes();
    cache.dispose();
    for (const w of weights) w.dispose();
    // At least half of each in 2 MB pages (the kernel may lack free huge pages for some).
    expect(afterCache - before).toBeGreaterThanOrEqual(32 << 20);
    expect(afterWeights - afterCache).toBeGreaterThanOrEqual(16 << 20);
  });

  it('dispose frees every buffer it allocated', () => {
    const local = new CpuBackend(native.addon, { threads: 1 });
    const buffer = local.allocate(16, 'weights');
    local.dispose();
    expect(buffer.isDisposed).toBe(true);
  });
});

describe('mlaAttention on a paged cache', () => {
  // The rows a query selects are looked up in its sequence's block table: a power-of-two block size by shifts,
  // any other by division. Either way an unmapped position and a slot past the cache are named.
  for (const blockSize of [4, 3])
    it(`names unmapped positions and slots outside the cache (block size ${blockSize})`, () => {
      const sync = new CpuBackend(native.addon, { threads: 2, settings: { execution: 'synchronous' } });
      try {
        const [H, W, C] = [2, 8, 4];
        const cache = uploadTensor(sync, 'f32', [3 * blockSize, W], new Array(3 * blockSize * W).fill(0.25));
        const q = uploadTensor(sync, 'f32', [2, H, W], new Array(2 * H * W).fill(0.5));
        const out = tensorView(sync.allocate(2 * H * C * 4, 'activations'), 'f32', [2, H, C]);
        const attend = (table: number[][], picks: number[]) => () =>
          sync.fused.mlaAttention!(
            out,
            q,
            cache,
            uploadBatch(sync, {
              blockSize,
              blockTable: table,
              sequenceIds: [0, 1],
              positions: [5, 5],
              slots: 0,
            }),
            uploadTensor(sync, 'i32', [2, 3], [0, 1, 2, ...picks]),
            0.5,
          );
        const b = blockSize;
        expect(
          attend(
            [
              [0, 1],
              [2, -1],
            ],
            [0, 1, 2],
          )(),
        ).toBeUndefined();
        expect(
          attend(
            [
              [0, 1],
              [2, -1],
            ],
            [0, b + 1, -1],
          ),
        ).toThrow(new RegExp(`sequence 1 has no cache block for position ${b + 1}`));
        expect(
          attend(
            [
              [0, 1],
              [2, -1],
            ],
            [2 * b, 0, -1],
          ),
        ).toThrow(new RegExp(`sequence 1 has no cache block for position ${2 * b}`));
        expect(
          attend(
            [
              [0, 1],
              [2, 3],
            ],
            [1, b, -1],
          ),
        ).toThrow(new RegExp(`block 3 of the block table is outside the cache of ${3 * b} slots`));
      } finally {
        sync.dispose();
      }
    });
});

describe('greedy sample', () => {
  // A greedy row with no bias and no history is picked straight from the f32 logits (argmax-row.h, a vector loop on
  // AVX-512): the first index greater than every earlier one, as the reference's `x[i] > x[best]` loop; NaN at 0
  // wins, NaN later never does, the first of equal maxima (and of -0 / +0) wins.
  const width = 37;
  const row = (f: (i: number) => number) => Array.from({ length: width }, (_, i) => f(i));
  const rows = [
    row((i) => Math.sin(i * 1.7)),
    row((i) => (i === 0 ? Number.NaN : i)),
    row((i) => (i === 30 ? Number.NaN : i === 5 || i === 33 ? 9 : 0)),
    row((i) => (i === 2 ? -0 : i === 3 ? 0 : -1)),
    row(() => Number.NEGATIVE_INFINITY),
    row((i) => (i === 36 ? 2 : 1)),
    row(() => Number.NaN),
  ];
  const expected = rows.map((r) => {
    const x = Float32Array.from(r);
    let best = 0;
    for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
    return best;
  });
  for (const isa of ISAS)
    it(`picks the reference's index, NaN and ties included (${isa})`, async () => {
      const cpu = new CpuBackend(native.addon, { threads: 2, settings: { isa } });
      const logits = uploadTensor(cpu, 'f32', [rows.length, width], rows.flat());
      const ids = tensorView(cpu.allocate(rows.length * 4, 'activations'), 'i32', [rows.length]);
      cpu.kernels.sample(
        ids,
        logits,
        rows.map(() => ({ temperature: 0 })),
        {},
      );
      expect(Array.from(await downloadTensor(cpu, ids))).toEqual(expected);
      // With a logit bias the row takes the double path: the same rule over the biased values.
      cpu.kernels.sample(
        ids,
        logits,
        rows.map(() => ({ temperature: 0, logitBias: [[7, 100]] as [number, number][] })),
        {},
      );
      expect(Array.from(await downloadTensor(cpu, ids))).toEqual([7, 0, 7, 7, 0, 7, 0]);
      cpu.dispose();
    });
});

describe('indexAdd on f32 rows', () => {
  // The composite's MoE combine, which moeExperts repeats per routed row: out = f32(out + w · y) with the sum in
  // double. Unit strides take add_scaled_row (a vector loop on AVX-512), a strided out the generic loop; both
  // must give exactly what that formula gives in JS doubles, on every kernel set, with a partial last vector.
  const width = 37;
  const f32 = (xs: number[]) => Array.from(new Float32Array(xs));
  const out0 = f32(Array.from({ length: 6 * width }, (_, i) => Math.sin(i * 0.7) * 1e3 + 1 / (i + 3)));
  const rows = f32(Array.from({ length: 4 * width }, (_, i) => Math.cos(i * 1.3) * 1e-2 + 1 / (i + 7)));
  const indices = [2, 5, -1, 2];
  const weights = f32([0.3, -1.7, 9, 0.0123]);
  const expected = [...out0];
  indices.forEach((r, i) => {
    if (r < 0) return;
    for (let c = 0; c < width; c++)
      expected[r * width + c] = Math.fround(expected[r * width + c]! + weights[i]! * rows[i * width + c]!);
  });
  for (const isa of ISAS)
    it(`sums in double, as f32(out + w · y), dense and strided (${isa})`, async () => {
      const cpu = new CpuBackend(native.addon, { threads: 2, settings: { isa } });
      const args = (out: TensorView) =>
        [
          out,
          uploadTensor(cpu, 'f32', [4, width], rows),
          uploadTensor(cpu, 'i32', [4], indices),
          uploadTensor(cpu, 'f32', [4], weights),
        ] as const;
      const dense = uploadTensor(cpu, 'f32', [6, width], out0);
      cpu.kernels.indexAdd(...args(dense));
      // The same rows as the even columns of a [6, 2·width] table.
      const wide = uploadTensor(
        cpu,
        'f32',
        [6, width, 2],
        out0.flatMap((v) => [v, -5]),
      );
      cpu.kernels.indexAdd(...args(select(wide, 2, 0)));
      expect(Array.from(await downloadTensor(cpu, dense))).toEqual(expected);
      const table = Array.from(await downloadTensor(cpu, wide));
      expect(table.filter((_, i) => i % 2 === 0)).toEqual(expected);
      expect(table.filter((_, i) => i % 2 === 1).every((v) => v === -5)).toBe(true);
      cpu.dispose();
    });
});
