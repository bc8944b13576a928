// The backend's kernel profile: executor wall time inside kernel bodies, by kernel name (what
// `dsa bench` turns into host_fraction).
import { downloadTensor, uploadTensor } from '@dsa/backend';
import { tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;

describe('CpuBackend.kernelProfile', () => {
  it('times kernel bodies by name from the first reset, within the wall time of the work', async () => {
    const backend = new CpuBackend(native.addon, { threads: 2 });
    try {
      const profile = backend.kernelProfile!;
      const n = 256;
      const values = Array.from({ length: n * n }, (_, i) => ((i % 31) - 15) / 16);
      const a = uploadTensor(backend, 'f32', [1, n, n], values);
      const out = tensorView(backend.allocate(n * n * 4, 'activations'), 'f32', [1, n, n]);
      backend.kernels.matmul(out, a, a);
      await backend.synchronize();
      expect(profile.read()).toEqual([]); // not timing before the first reset

      profile.reset();
      const started = performance.now();
      for (let i = 0; i < 3; i++) backend.kernels.matmul(out, a, a);
      backend.kernels.binary(out, out, a, 'add');
      backend.kernels.binary(out, out, a, 'mul');
      const got = await downloadTensor(backend, out);
      const wall = performance.now() - started;
      expect(got.length).toBe(n * n);

      const times = profile.read();
      const byName = new Map(times.map((t) => [t.name, t]));
      expect(byName.get('matmul')?.count).toBe(3);
      expect(byName.get('binary')?.count).toBe(2);
      // The download is a queued command (timed) when the queue is still busy, else a memcpy on the calling thread
      // (host time, not timed): which one depends on how fast the kernels drained.
      expect(byName.get('download')?.count ?? 0).toBeLessThanOrEqual(1);
      expect(times.map((t) => t.ms)).toEqual([...times.map((t) => t.ms)].sort((x, y) => y - x));
      // 3 × 33.5 MFLOP of matmul outweigh two 64K-element elementwise passes.
      expect(byName.get('matmul')!.ms).toBeGreaterThan(byName.get('binary')!.ms);
      const total = times.reduce((sum, t) => sum + t.ms, 0);
      expect(total).toBeGreaterThan(0);
      expect(total).toBeLessThanOrEqual(wall);

      profile.reset();
      expect(profile.read()).toEqual([]);
    } finally {
      backend.dispose();
    }
    // Disposed: nothing to read, and reset is harmless.
    expect(backend.kernelProfile!.read()).toEqual([]);
    expect(() => backend.kernelProfile!.reset()).not.toThrow();
  });

  it('is null in synchronous execution (kernels run inside the calls)', () => {
    const backend = new CpuBackend(native.addon, { threads: 1, settings: { execution: 'synchronous' } });
    try {
      expect(backend.kernelProfile).toBeNull();
    } finally {
      backend.dispose();
    }
  });
});
