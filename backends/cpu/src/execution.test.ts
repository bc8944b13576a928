// The execution model: kernel calls enqueue work on an in-order queue drained off the JavaScript
// thread; download / synchronize wait for it. Values are checked against the reference backend.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { downloadTensor, uploadTensor } from '@dsa/backend';
import { ReferenceBackend } from '@dsa/backend-reference';
import { type TensorView, tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import type { CpuBuffer } from './cpu-buffer.js';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;

/** An f32 [1, n, n] tensor of small deterministic values. */
function square(backend: CpuBackend | ReferenceBackend, n: number, seed: number): TensorView {
  const values = Array.from({ length: n * n }, (_, i) => (((i * 7919 + seed * 104729) % 97) - 48) / 64);
  return uploadTensor(backend, 'f32', [1, n, n], values);
}

function empty(backend: CpuBackend, n: number): TensorView {
  return tensorView(backend.allocate(n * n * 4, 'activations'), 'f32', [1, n, n]);
}

describe('queued execution', () => {
  it('keeps the event loop responsive while a long workload runs', async () => {
    const backend = new CpuBackend(native.addon, { threads: 1 });
    try {
      const n = 768;
      const a = square(backend, n, 1);
      const b = square(backend, n, 2);
      const out = empty(backend, n);
      await backend.synchronize();
      let ticks = 0;
      let maxGap = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
        ticks++;
      }, 1);
      const start = performance.now();
      for (let i = 0; i < 48; i++) backend.kernels.matmul(out, a, b);
      const enqueued = performance.now() - start;
      expect(backend.idle).toBe(false);
      last = performance.now();
      await backend.synchronize();
      const duration = performance.now() - start;
      clearInterval(timer);
      console.log(
        `queued: workload ${duration.toFixed(0)} ms (enqueue ${enqueued.toFixed(2)} ms), ${ticks} ticks, max gap ${maxGap.toFixed(1)} ms`,
      );
      expect(backend.idle).toBe(true);
      expect(duration).toBeGreaterThan(100); // the workload is long enough to mean something
      expect(enqueued).toBeLessThan(duration / 10);
      expect(ticks).toBeGreaterThan(10);
      expect(maxGap).toBeLessThan(duration / 4);
    } finally {
      backend.dispose();
    }
  });

  it('runs upload → kernel → download in call order, and the upload source may be reused at once', async () => {
    const backend = new CpuBackend(native.addon, { threads: 2 });
    const reference = new ReferenceBackend();
    try {
      const n = 512;
      const a = square(backend, n, 3);
      const b = square(backend, n, 4);
      const product = empty(backend, n);
      const x = tensorView(backend.allocate(16, 'activations'), 'f32', [4]);
      const y = tensorView(backend.allocate(16, 'activations'), 'f32', [4]);
      const sum = tensorView(backend.allocate(16, 'activations'), 'f32', [4]);
      for (let i = 0; i < 4; i++) backend.kernels.matmul(product, a, b); // keeps the queue busy
      const source = Float32Array.from([1, 2, 3, 4]);
      backend.upload(x, source);
      expect(backend.idle).toBe(false); // so the upload above was staged, not copied in place
      source.set([10, 20, 30, 40]); // reuse right away
      backend.upload(y, source);
      source.fill(-1);
      backend.kernels.binary(sum, x, y, 'add');
      const first = new Float32Array(4);
      const pending = backend.download(sum, first);
      backend.kernels.binary(sum, sum, sum, 'mul'); // queued after the download: must not leak into it
      const second = new Float32Array(4);
      const later = backend.download(sum, second);
      const got = await downloadTensor(backend, product);
      await Promise.all([pending, later]);
      expect(Array.from(first)).toEqual([11, 22, 33, 44]);
      expect(Array.from(second)).toEqual([121, 484, 1089, 1936]);
      const ra = square(reference, n, 3);
      const rb = square(reference, n, 4);
      const rout = tensorView(reference.allocate(n * n * 4, 'activations'), 'f32', [1, n, n]);
      reference.kernels.matmul(rout, ra, rb);
      const want = await downloadTensor(reference, rout);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      expect(worst).toBeLessThan(1e-3);
    } finally {
      backend.dispose();
    }
  });

  it('throws synchronously, naming the tensor, when a call uses a disposed buffer', () => {
    const backend = new CpuBackend(native.addon, { threads: 1 });
    try {
      const out = tensorView(backend.allocate(8, 'activations'), 'f32', [2]);
      const gone = uploadTensor(backend, 'f32', [2], [1, 2]);
      (gone.buffer as CpuBuffer).dispose();
      expect(() => backend.kernels.unary(out, gone, 'neg')).toThrow(/unary: x: tensor buffer was disposed/);
      expect(() => backend.upload(gone, new Float32Array(2))).toThrow(/upload: tensor buffer was disposed/);
    } finally {
      backend.dispose();
    }
  });

  it('keeps a buffer disposed with work queued on it alive until that work ran', async () => {
    const backend = new CpuBackend(native.addon, { threads: 2 });
    try {
      const n = 256;
      const a = square(backend, n, 5);
      const out = empty(backend, n);
      for (let i = 0; i < 4; i++) backend.kernels.matmul(out, a, a);
      const source = uploadTensor(backend, 'f32', [4], [5, 6, 7, 8]);
      const copy = tensorView(backend.allocate(16, 'activations'), 'f32', [4]);
      backend.copy(copy, source);
      (source.buffer as CpuBuffer).dispose();
      const values = new Float32Array(4);
      await backend.download(copy, values);
      expect(Array.from(values)).toEqual([5, 6, 7, 8]);
    } finally {
      backend.dispose();
    }
  });

  it('survives dispose with work in flight: pending waits settle, later calls throw', async () => {
    const backend = new CpuBackend(native.addon, { threads: 2 });
    const n = 256;
    const a = square(backend, n, 6);
    const out = empty(backend, n);
    const x = uploadTensor(backend, 'f32', [3], [1, -2, 3]);
    const y = tensorView(backend.allocate(12, 'activations'), 'f32', [3]);
    for (let i = 0; i < 4; i++) backend.kernels.matmul(out, a, a);
    backend.kernels.unary(y, x, 'neg');
    const values = new Float32Array(3);
    const pending = backend.download(y, values);
    const done = backend.synchronize();
    backend.dispose();
    await pending;
    await done;
    expect(Array.from(values)).toEqual([-1, 2, -3]);
    expect(() => backend.kernels.fill(y, 0)).toThrow(/disposed/);
    await expect(backend.synchronize()).rejects.toThrow(/the cpu backend was disposed/);
  });

  it('lets the process exit while work is still queued', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const loader = createRequire(import.meta.url).resolve('node-gyp-build');
    // Raw addon calls: a queue, one 64 MiB buffer, 40 fills of it (argument block: queue, threads,
    // isa, then the tensor [id, offset, dtype f32 = 1, rank 1, shape, stride] and the value).
    const script = `
      const addon = require(${JSON.stringify(loader)})(${JSON.stringify(root)});
      const queue = addon.createQueue();
      const n = 16 << 20;
      const id = addon.allocate(n * 4, 'activations');
      for (let i = 0; i < 40; i++) addon.fill(Float64Array.from([queue, 1, 0, id, 0, 1, 1, n, 1, i]));
      addon.free(id);
      if (addon.queueIdle(queue)) throw new Error('the queue finished too early for this test');
    `;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
  });
});
