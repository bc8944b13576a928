// CpuBackend.captureGraph: kernel calls recorded into a native program and replayed with one call,
// bit for bit equal to the same calls run eagerly, reading inputs uploaded between replays.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AttentionBatch, downloadTensor, uploadTensor } from '@dsa/backend';
import {
  emptyTensor,
  Random,
  SMALL_PAGED_LAYOUT,
  uploadBatch,
  uploadLinearWeight,
} from '@dsa/backend/testing';
import type { TensorView } from '@dsa/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import type { CpuBuffer } from './cpu-buffer.js';
import type { CpuGraph } from './cpu-graph.js';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;
const addon = native.addon;
const STREAM = { id: 0 };

function sameBits(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

describe('CpuBackend.captureGraph', () => {
  const backends: CpuBackend[] = [];
  const create = (settings: Record<string, unknown> = {}) => {
    const backend = new CpuBackend(addon, { threads: 2, settings });
    backends.push(backend);
    return backend;
  };
  afterEach(() => {
    for (const b of backends.splice(0)) b.dispose();
  });

  /** A small decode-like sequence: linear (bf16), rmsNorm, swiglu, softmax, over `x` into `out`. */
  function sequence(backend: CpuBackend, random: Random) {
    const [m, k, n] = [3, 256, 192];
    const x = uploadTensor(backend, 'f32', [m, k], random.normals(m * k));
    const weight = uploadLinearWeight(backend, 'bf16', [2 * n, k], random.normals(2 * n * k, 0.05), () => []);
    const norm = uploadTensor(backend, 'f32', [2 * n], random.normals(2 * n));
    const projected = emptyTensor(backend, 'f32', [m, 2 * n]);
    const out = emptyTensor(backend, 'f32', [m, n]);
    const halves = (t: TensorView, i: number): TensorView => ({
      ...t,
      shape: [m, n],
      byteOffset: t.byteOffset + i * n * 4,
    });
    const run = () => {
      backend.kernels.linear(projected, x, weight);
      backend.kernels.rmsNorm(projected, projected, norm, 1e-6);
      backend.fused.swiglu!(out, halves(projected, 0), halves(projected, 1));
      backend.kernels.softmax(out, { scale: 0.5 });
    };
    return { x, out, run, m, k, n };
  }

  it('replays the recorded kernels bit for bit, reading inputs uploaded between replays', async () => {
    const backend = create();
    expect(backend.capabilities.graphCapture).toBe(true);
    const random = new Random(5);
    const { x, out, run, m, k } = sequence(backend, random);
    const inputs = [random.normals(m * k), random.normals(m * k)];

    const eager: ArrayBufferView[] = [];
    for (const input of inputs) {
      backend.upload(x, Float32Array.from(input));
      run();
      eager.push(await downloadTensor(backend, out));
    }

    backend.kernels.fill(out, 0);
    const graph = backend.captureGraph(STREAM, run) as CpuGraph;
    expect(graph.kernels).toEqual(['linear', 'rmsNorm', 'swiglu', 'softmax']);
    expect(await downloadTensor(backend, out)).toEqual(new Float32Array(out.shape[0]! * out.shape[1]!)); // nothing ran
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < inputs.length; i++) {
        backend.upload(x, Float32Array.from(inputs[i]!));
        graph.replay();
        expect(sameBits(await downloadTensor(backend, out), eager[i]!)).toBe(true);
      }
    }
    graph.dispose();
    expect(graph.kernels).toEqual([]);
    expect(() => graph.replay()).toThrow(/disposed/);
    graph.dispose(); // harmless twice
  });

  it('mlaAttention and indexerTopk read the batch from its device tensors at replay', async () => {
    const backend = create();
    const random = new Random(9);
    const layout = SMALL_PAGED_LAYOUT;
    const s = layout.positions.length;
    const [heads, c, r] = [2, 16, 4];
    const q = uploadTensor(backend, 'f32', [s, heads, c + r], random.normals(s * heads * (c + r)));
    const cache = uploadTensor(backend, 'f32', [layout.slots, c + r], random.normals(layout.slots * (c + r)));
    const iq = uploadTensor(backend, 'f32', [s, 2, 8], random.normals(s * 16));
    const iw = uploadTensor(backend, 'f32', [s, 2], random.normals(s * 2));
    const keys = uploadTensor(backend, 'f32', [layout.slots, 8], random.normals(layout.slots * 8));
    const out = emptyTensor(backend, 'f32', [s, heads, c]);
    const indices = emptyTensor(backend, 'i32', [s, 4]);
    const batch = uploadBatch(backend, layout);
    const run = (b: AttentionBatch) => () => {
      backend.fused.indexerTopk!(indices, iq, iw, { keys }, b, 4);
      backend.fused.mlaAttention!(out, q, cache, b, null, 0.3);
    };
    // Eager at other positions (each query a few tokens back), with host copies to match.
    const earlier = layout.positions.map((p) => p - 2);
    const moved = uploadBatch(backend, { ...layout, positions: earlier });
    run(moved)();
    const wantOut = await downloadTensor(backend, out);
    const wantIndices = await downloadTensor(backend, indices);

    const graph = backend.captureGraph(STREAM, run(batch));
    backend.upload(batch.positions, Int32Array.from(earlier));
    graph.replay();
    expect(sameBits(await downloadTensor(backend, out), wantOut)).toBe(true);
    expect(sameBits(await downloadTensor(backend, indices), wantIndices)).toBe(true);
  });

  it('a kernel failing inside a replay rejects the next wait, naming the kernel', async () => {
    const backend = create();
    const table = uploadTensor(backend, 'f32', [4, 8], new Array(32).fill(1));
    const index = uploadTensor(backend, 'i32', [1], [2]);
    const out = emptyTensor(backend, 'f32', [1, 8]);
    const graph = backend.captureGraph(STREAM, () => backend.kernels.gatherRows(out, table, index));
    graph.replay();
    await backend.synchronize();
    backend.upload(index, Int32Array.from([7])); // out of range, seen only when the replay runs
    graph.replay();
    await expect(backend.synchronize()).rejects.toThrow(/gatherRows/);
    await backend.synchronize(); // reported once
  });

  it('refuses host transfers and nested captures while recording; a failed record leaves no capture', async () => {
    const backend = create();
    const t = emptyTensor(backend, 'f32', [4]);
    const host = new Float32Array(4);
    expect(() => backend.captureGraph(STREAM, () => backend.upload(t, host))).toThrow(
      /cannot upload while a graph/,
    );
    // download and synchronize are async: they reject.
    const waits: Promise<void>[] = [];
    backend
      .captureGraph(STREAM, () => waits.push(backend.download(t, host), backend.synchronize()))
      .dispose();
    await expect(waits[0]).rejects.toThrow(/cannot download while a graph/);
    await expect(waits[1]).rejects.toThrow(/cannot synchronize while a graph/);
    expect(() =>
      backend.captureGraph(STREAM, () => backend.captureGraph(STREAM, () => backend.kernels.fill(t, 1))),
    ).toThrow(/already in progress/);
    // After all that, kernels run eagerly again and a new capture works.
    backend.kernels.fill(t, 2);
    expect(await downloadTensor(backend, t)).toEqual(Float32Array.from([2, 2, 2, 2]));
    const graph = backend.captureGraph(STREAM, () => backend.kernels.fill(t, 3));
    graph.replay();
    expect(await downloadTensor(backend, t)).toEqual(Float32Array.from([3, 3, 3, 3]));
  });

  it('keeps the buffers it uses alive; the backend frees its graphs on dispose', async () => {
    const backend = create();
    const source = uploadTensor(backend, 'f32', [4], [1, 2, 3, 4]);
    const target = emptyTensor(backend, 'f32', [4]);
    const graph = backend.captureGraph(STREAM, () => backend.copy(target, source)) as CpuGraph;
    (source.buffer as CpuBuffer).dispose(); // retired, but the program still holds its memory
    graph.replay();
    expect(await downloadTensor(backend, target)).toEqual(Float32Array.from([1, 2, 3, 4]));
    backend.dispose();
    expect(graph.kernels).toEqual([]);
    expect(() => graph.replay()).toThrow(/disposed/);
  });

  it('times each replayed kernel by name in the kernel profile', async () => {
    const backend = create();
    const { run } = sequence(backend, new Random(3));
    const graph = backend.captureGraph(STREAM, run);
    backend.kernelProfile!.reset();
    graph.replay();
    graph.replay();
    const times = new Map(backend.kernelProfile!.read().map((t) => [t.name, t]));
    for (const name of ['linear', 'rmsNorm', 'swiglu', 'softmax']) expect(times.get(name)?.count).toBe(2);
    expect(times.has('graph')).toBe(false);
  });

  it('is not offered in synchronous execution', () => {
    const backend = create({ execution: 'synchronous' });
    expect(backend.capabilities.graphCapture).toBe(false);
    expect(() => backend.captureGraph(STREAM, () => {})).toThrow(/queued execution/);
  });

  it('lets the process exit with a graph neither disposed nor collected', () => {
    // The exit handlers once destroyed the buffer table before the program table, whose programs then
    // released their buffer references into freed memory (an ASan heap-use-after-free at exit). The
    // child inherits the sanitizer step's LD_PRELOAD and prebuild, so there it runs sanitized.
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const loader = createRequire(import.meta.url).resolve('node-gyp-build');
    // Raw addon calls (argument block as in execution.test.ts): fill recorded into a program, replayed once.
    const script = `
      const addon = require(${JSON.stringify(loader)})(${JSON.stringify(root)});
      const queue = addon.createQueue();
      const id = addon.allocate(1024 * 4, 'activations');
      addon.beginCapture(queue);
      addon.fill(Float64Array.from([queue, 1, 0, id, 0, 1, 1, 1024, 1, 3]));
      const program = addon.endCapture(queue);
      addon.replay(queue, program);
      addon.free(id);
    `;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
  });
});
