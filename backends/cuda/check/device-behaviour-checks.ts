import type { Backend } from '@dsa/backend';
import { downloadTensor, uploadTensor } from '@dsa/backend';
import { Random, uploadLinearWeight } from '@dsa/backend/testing';
import { narrow, type TensorView, tensorView } from '@dsa/tensor';
import { type CheckResult, runCheck } from './check-result.js';

function bitwiseDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let differ = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) differ++;
  return differ;
}

function empty(backend: Backend, shape: number[], dtype: 'f32' | 'i32' = 'f32'): TensorView {
  return tensorView(backend.allocate(shape.reduce((x, y) => x * y, 1) * 4, 'activations'), dtype, shape);
}

/**
 * Checks beyond the conformance kit, on the device: results of a row do not depend on the batch it
 * is in (linear, rmsNorm, softmax, sample), and a captured graph replays to the same values as eager.
 */
export async function behaviourChecks(backend: Backend): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const random = new Random(77);
  const [m, n, k] = [37, 96, 512];
  const decode = 16;
  const xValues = random.normals(m * k);
  const x = uploadTensor(backend, 'f32', [m, k], xValues);
  for (const dtype of ['bf16', 'f8_e4m3'] as const) {
    results.push(
      await runCheck(
        `batch invariance: linear ${dtype} row 5 alone vs in a decode batch of ${decode}`,
        0,
        async () => {
          const weight = uploadLinearWeight(
            backend,
            dtype,
            [n, k],
            random.normals(n * k, dtype === 'f8_e4m3' ? 50 : 0.05),
            () => [0.001, 0.002, 0.004, 0.008], // [1, 4] blocks
          );
          // M ≤ 16 is the decode kernel (invariant); M > 16 is the prefill GEMM (cuBLASLt may split K by shape).
          const all = empty(backend, [decode, n]);
          backend.kernels.linear(all, narrow(x, 0, 0, decode), weight);
          const one = empty(backend, [1, n]);
          backend.kernels.linear(one, narrow(x, 0, 5, 1), weight);
          const a = await downloadTensor(backend, all);
          const b = await downloadTensor(backend, one);
          const differ = bitwiseDiff(a.subarray(5 * n, 6 * n), b);
          return { error: differ, detail: `${differ} of ${n} outputs differ bitwise` };
        },
      ),
    );
  }
  results.push(
    await runCheck('batch invariance: rmsNorm + softmax + sample row alone vs batched', 0, async () => {
      const logits = uploadTensor(backend, 'f32', [m, k], xValues);
      const weight = uploadTensor(backend, 'f32', [k], random.normals(k));
      const normed = empty(backend, [m, k]);
      backend.kernels.rmsNorm(normed, logits, weight, 1e-6);
      const ids = empty(backend, [m], 'i32');
      const rows = Array.from({ length: m }, (_, i) => ({ temperature: 0.9, topP: 0.95, seed: 3, step: i }));
      backend.kernels.sample(ids, normed, rows);
      const alone = empty(backend, [1, k]);
      backend.kernels.rmsNorm(alone, narrow(logits, 0, 9, 1), weight, 1e-6);
      const id = empty(backend, [1], 'i32');
      backend.kernels.sample(id, alone, [rows[9]!]);
      const a = await downloadTensor(backend, normed);
      const b = await downloadTensor(backend, alone);
      const ia = await downloadTensor(backend, ids);
      const ib = await downloadTensor(backend, id);
      const differ = bitwiseDiff(a.subarray(9 * k, 10 * k), b) + (ia[9] === ib[0] ? 0 : 1);
      return { error: differ, detail: `${differ} differences (token ${ia[9]} vs ${ib[0]})` };
    }),
  );
  if (backend.captureGraph && backend.capabilities.graphCapture) {
    const capture = backend.captureGraph.bind(backend);
    results.push(
      await runCheck('captureGraph: replay equals eager, replays twice', 0, async () => {
        const a = uploadTensor(backend, 'f32', [64, 128], random.normals(64 * 128));
        const b = uploadTensor(backend, 'f32', [64, 128], random.normals(64 * 128));
        const out = empty(backend, [64, 128]);
        const run = () => {
          backend.kernels.binary(out, a, b, 'mul');
          backend.kernels.unary(out, out, 'silu');
          backend.kernels.softmax(out, { scale: 0.5 });
        };
        run();
        const eager = await downloadTensor(backend, out);
        backend.kernels.fill(out, 0);
        await backend.synchronize(); // the graph runs on another stream: finish the fill first
        const stream = backend.createStream();
        const graph = capture(stream, run);
        graph.replay();
        await backend.synchronize();
        const first = await downloadTensor(backend, out);
        backend.kernels.fill(out, 0);
        await backend.synchronize();
        graph.replay(stream);
        await backend.synchronize();
        const second = await downloadTensor(backend, out);
        graph.dispose();
        const differ = bitwiseDiff(eager, first) + bitwiseDiff(eager, second);
        return { error: differ, detail: `${differ} values differ from eager` };
      }),
    );
  }
  return results;
}
