// Per-call overhead of small kernel calls: rmsNorm on [1, 1024] f32, calls/s (then one download).
// Usage: node backends/cpu/bench/call-overhead.mjs [calls] [queued|synchronous]
import { uploadTensor } from '@dsa/backend';
import { CpuBackend, loadNative } from '@dsa/backend-cpu';
import { tensorView } from '@dsa/tensor';

const calls = Number(process.argv[2] ?? 200000);
const native = loadNative();
if ('error' in native) throw native.error;
const execution = process.argv[3] ?? 'queued';
const backend = new CpuBackend(native.addon, { settings: { execution } });
const x = uploadTensor(
  backend,
  'f32',
  [1, 1024],
  Array.from({ length: 1024 }, (_, i) => Math.sin(i)),
);
const w = uploadTensor(backend, 'f32', [1024], new Array(1024).fill(1));
const out = tensorView(backend.allocate(4096, 'activations'), 'f32', [1, 1024]);
const result = new Float32Array(1024);
for (let round = 0; round < 3; round++) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) backend.kernels.rmsNorm(out, x, w, 1e-6);
  const enqueued = Number(process.hrtime.bigint() - start) / 1e9;
  await backend.download(out, result);
  const total = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `${execution} rmsNorm [1, 1024] × ${calls}: ${(calls / total / 1e3).toFixed(1)} k calls/s (${((total / calls) * 1e6).toFixed(2)} µs/call; enqueue ${((enqueued / calls) * 1e6).toFixed(2)} µs/call)`,
  );
}
backend.dispose();
