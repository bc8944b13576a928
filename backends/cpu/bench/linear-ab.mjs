// linear GFLOP/s at decode and prefill shapes, this checkout's addon against another's (OLD=dir), interleaved
// in one process, with a bit-for-bit comparison of the outputs.
import { uploadTensor } from '@dsa/backend';
import { Random, uploadLinearWeight } from '@dsa/backend/testing';
import { tensorView } from '@dsa/tensor';
import { abBackends } from './ab-backends.mjs';
import { uploadQ8Weight } from './q8-weight.mjs';

const bes = abBackends();
// SHAPES=MxNxK:dtype,... overrides the list (e.g. the v32-dims prefill: 1024x2048x7168:i8,1024x7168x2048:f8_e4m3).
const shapes = process.env.SHAPES
  ? process.env.SHAPES.split(',').map((s) => {
      const [dims, dt] = s.split(':');
      return [...dims.split('x').map(Number), dt];
    })
  : [
      [1, 4096, 1024, 'bf16'],
      [8, 4096, 1024, 'bf16'],
      [32, 4096, 1024, 'bf16'],
      [512, 4096, 1024, 'bf16'],
      [512, 1024, 4096, 'bf16'],
      [16, 256, 160, 'f32'],
      [8, 4096, 1024, 'f8_e4m3'],
      [512, 1024, 1024, 'f8_e4m3'],
    ];
for (const [m, n, k, dt] of shapes) {
  // COPIES=memory: enough copies of the weight to pass 96 MB, beyond a 32 MB last-level cache.
  const wbytes = n * k * (dt === 'f32' ? 4 : dt === 'bf16' || dt === 'f16' ? 2 : 1);
  const copies = process.env.COPIES === 'memory' ? Math.ceil(96e6 / wbytes) : Number(process.env.COPIES ?? 1);
  const best = {},
    res = {},
    ops = {};
  for (const [name, be] of Object.entries(bes)) {
    const r = new Random(1);
    const x = uploadTensor(be, 'f32', [m, k], r.normals(m * k));
    const upload = () =>
      dt === 'i8'
        ? uploadQ8Weight(be, r, n, k, (c) => r.normals(c, 0.001))
        : uploadLinearWeight(be, dt, [n, k], r.normals(n * k, dt === 'f8_e4m3' ? 100 : 0.05), (c) =>
            new Array(c).fill(2 ** -7),
          );
    // COPIES: copies of the weight taken in turn, so that small shapes read memory rather than the cache.
    const ws = Array.from({ length: copies }, upload);
    const out = tensorView(be.allocate(m * n * 4, 'activations'), 'f32', [m, n]);
    let turn = 0;
    ops[name] = { be, run: () => be.kernels.linear(out, x, ws[turn++ % copies]), out };
  }
  const reps = Math.max(3 * copies, Math.round(1e9 / (2 * m * n * k)));
  for (let round = 0; round < 7; round++)
    for (const [name, { run }] of Object.entries(ops)) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < reps; i++) run();
      best[name] = Math.min(best[name] ?? 1e9, Number(process.hrtime.bigint() - t0) / 1e9 / reps);
    }
  for (const [name, { be, out }] of Object.entries(ops)) {
    const o = new Float32Array(m * n);
    await be.download(out, o);
    res[name] = Buffer.from(o.buffer);
  }
  console.log(
    `${dt} M=${m} N=${n} K=${k}: ` +
      Object.keys(ops)
        .map(
          (v) =>
            `${v} ${(best[v] * 1e3).toFixed(3)} ms ${((2 * m * n * k) / best[v] / 1e9).toFixed(1)} GFLOP/s`,
        )
        .join(' | ') +
      ` same bits: ${Buffer.compare(res.new, res.old) === 0}`,
  );
}
