// matmul µs per call at MLA's two shapes (absorbing W_UK: the axpy form, b [H, d, C]; W_UV: the dot form, b
// [H, v, C] transposed), this checkout's addon against another's (OLD=dir), interleaved in one process, with a
// bit-for-bit comparison of the outputs. Each call takes the next of LAYERS weights (as a decode step walks
// its layers). Env: TOKENS=1,8,32 H=16 D=64 C=128 LAYERS=8 PREC=bf16 ROUNDS=200 OLD=dir.
import { uploadTensor } from '@dsa/backend';
import { Random } from '@dsa/backend/testing';
import { tensorView } from '@dsa/tensor';
import { abBackends } from './ab-backends.mjs';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const [H, D, C, L, rounds] = [
  env('H', 16),
  env('D', 64),
  env('C', 128),
  env('LAYERS', 8),
  env('ROUNDS', 200),
];
const tokens = (process.env.TOKENS ?? '1,8,32').split(',').map(Number);
const bes = abBackends();
for (const M of tokens)
  for (const form of ['axpy', 'dot']) {
    const [K, N] = form === 'axpy' ? [D, C] : [C, D];
    const runs = Object.fromEntries(
      Object.entries(bes).map(([name, be]) => {
        const r = new Random(5);
        const a = uploadTensor(be, 'f32', [H, M, K], r.normals(H * M * K));
        const bs = Array.from({ length: L }, () =>
          uploadTensor(be, 'bf16', [H, D, C], r.normals(H * D * C, 0.05)),
        );
        const out = tensorView(be.allocate(H * M * N * 4, 'activations'), 'f32', [H, M, N]);
        return [name, { be, a, bs, out }];
      }),
    );
    const best = {};
    const outputs = {};
    for (let round = 0; round < rounds; round++)
      for (const [name, { be, a, bs, out }] of Object.entries(runs)) {
        const t0 = process.hrtime.bigint();
        for (const b of bs) be.kernels.matmul(out, a, b, { transposeB: form === 'dot' });
        best[name] = Math.min(best[name] ?? 1e12, Number(process.hrtime.bigint() - t0) / 1e3 / L);
        if (round === rounds - 1) {
          const host = new Float32Array(H * M * N);
          await be.download(out, host);
          outputs[name] = host;
        }
      }
    const same = outputs.new.every((v, i) => Object.is(v, outputs.old[i]));
    console.log(
      `matmul ${form} H=${H} M=${M} K=${K} N=${N}: new ${best.new.toFixed(1)} µs | old ${best.old.toFixed(1)} µs per call, same bits: ${same}`,
    );
  }
