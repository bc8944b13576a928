// Event-loop responsiveness while a long workload runs: 12 matmuls f32 [1, 768, 768] enqueued at
// once; a 1 ms setInterval records its largest gap. Usage: node backends/cpu/bench/event-loop.mjs [queued|synchronous]
import { uploadTensor } from '@dsa/backend';
import { CpuBackend, loadNative } from '@dsa/backend-cpu';
import { tensorView } from '@dsa/tensor';

const execution = process.argv[2] ?? 'queued';
const native = loadNative();
if ('error' in native) throw native.error;
const backend = new CpuBackend(native.addon, { threads: 1, settings: { execution } });
const n = 768;
const values = Array.from({ length: n * n }, (_, i) => ((i % 97) - 48) / 64);
const a = uploadTensor(backend, 'f32', [1, n, n], values);
const out = tensorView(backend.allocate(n * n * 4, 'activations'), 'f32', [1, n, n]);
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
await new Promise((resolve) => setTimeout(resolve, 5));
const start = performance.now();
for (let i = 0; i < 12; i++) backend.kernels.matmul(out, a, a);
const enqueued = performance.now() - start;
await backend.synchronize();
const duration = performance.now() - start;
maxGap = Math.max(maxGap, performance.now() - last); // a gap still open at the end counts too
clearInterval(timer);
console.log(
  `${execution}: workload ${duration.toFixed(0)} ms (enqueue ${enqueued.toFixed(2)} ms), ${ticks} ticks, max gap ${maxGap.toFixed(1)} ms`,
);
backend.dispose();
