// The fused `linears` against one `linear` call per weight, on this checkout's addon, interleaved in one process:
// the groups of weights small's decode step projects together (q_a + kv_a, wk + weights_proj, the router with the
// shared expert's gate and up, the dense MLP's gate and up), bf16, each group in enough copies to pass 96 MB so
// that the weights come from memory. Prints the best of 7 rounds per variant and whether the outputs agree bit for
// bit. PREC=bf16 for the bf16 precision; ROWS=1,8,32 the rows of x.
import { uploadTensor } from '@dsa/backend';
import { Random, uploadLinearWeight } from '@dsa/backend/testing';
import { tensorView } from '@dsa/tensor';
import { CpuBackend } from '../dist/cpu-backend.js';
import { loadNative } from '../dist/native.js';

const settings = { execution: 'synchronous', ...(process.env.PREC ? { precision: process.env.PREC } : {}) };
const be = new CpuBackend(loadNative(new URL('..', import.meta.url).pathname).addon, { settings });
// [label, rows of each weight, K, dtype of each weight (bf16 when absent)]; EXTRA=1 adds groups the model does not
// fuse (measured for the note); PRESET=v32-dims: the fp8 checkpoint's groups at DeepSeek-V3.2's sizes instead.
const fp8 = (n) => n.map(() => 'f8_e4m3');
const groups =
  process.env.PRESET === 'v32-dims'
    ? [
        [
          'q_a + kv_a + wk (fp8) + weights_proj (bf16)',
          [1536, 576, 128, 64],
          7168,
          ['f8_e4m3', 'f8_e4m3', 'f8_e4m3', 'bf16'],
        ],
        ['q_b + wq_b (fp8)', [24576, 8192], 1536, fp8([0, 0])],
      ]
    : [
        ['q_a + kv_a', [384, 160], 1024],
        ['wk + weights_proj', [64, 8], 1024],
        ['router + shared gate, up', [32, 96, 96], 1024],
        ['dense gate + up', [2816, 2816], 1024],
        ...(process.env.EXTRA === '1'
          ? [
              ['q_a + kv_a + wk + weights_proj', [384, 160, 64, 8], 1024],
              ['q_b + wq_b', [1536, 512], 384],
            ]
          : []),
      ];
for (const m of (process.env.ROWS ?? '1,8,32').split(',').map(Number)) {
  for (const [label, rows, K, dtypes = rows.map(() => 'bf16')] of groups) {
    const r = new Random(m);
    const bytes = rows.reduce((a, n, i) => a + n * K * (dtypes[i] === 'bf16' ? 2 : 1), 0);
    const copies = Math.ceil(96e6 / bytes);
    const x = uploadTensor(be, 'f32', [m, K], r.normals(m * K));
    const sets = Array.from({ length: copies }, () =>
      rows.map((n, i) =>
        uploadLinearWeight(be, dtypes[i], [n, K], r.normals(n * K, dtypes[i] === 'bf16' ? 0.05 : 100), (c) =>
          new Array(c).fill(2 ** -7),
        ),
      ),
    );
    const outsOf = () => rows.map((n) => tensorView(be.allocate(m * n * 4, 'activations'), 'f32', [m, n]));
    const outs = { separate: outsOf(), fused: outsOf() };
    // Each variant takes the copies in turn, from the same first one.
    const turn = { separate: 0, fused: 0 };
    const run = {
      separate: () => {
        const ws = sets[turn.separate++ % copies];
        for (let i = 0; i < rows.length; i++) be.kernels.linear(outs.separate[i], x, ws[i]);
      },
      fused: () => be.fused.linears(outs.fused, x, sets[turn.fused++ % copies]),
    };
    const reps = Math.max(3 * copies, 200);
    const best = {};
    for (let round = 0; round < 7; round++)
      for (const [name, f] of Object.entries(run)) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < reps; i++) f();
        best[name] = Math.min(best[name] ?? 1e9, Number(process.hrtime.bigint() - t0) / 1e3 / reps);
      }
    let same = true;
    for (let i = 0; i < rows.length; i++) {
      const [a, b] = [new Float32Array(m * rows[i]), new Float32Array(m * rows[i])];
      await be.download(outs.separate[i], a);
      await be.download(outs.fused[i], b);
      same &&= Buffer.from(a.buffer).equals(Buffer.from(b.buffer));
    }
    console.log(
      `M=${m} ${label} (${(bytes / 1e6).toFixed(2)} MB): separate ${best.separate.toFixed(1)} µs, fused ` +
        `${best.fused.toFixed(1)} µs (${(best.fused / best.separate).toFixed(2)}×), same bits: ${same}`,
    );
  }
}
