// Use the lightning indexer's kernel on its own: score 40 cached keys for 3 queries and keep the top 8,
// with nothing but the contract (@dsa/backend, where indexerTopk and its composite are defined) and a
// backend. Checks the result against plain JavaScript.
import { indexerTopk, uploadTensor, Workspace } from '@dsa/backend';
import referenceBackendFactory from '@dsa/backend-reference';

const backend = await referenceBackendFactory.create();
const [heads, dim, keysCount, k] = [4, 16, 40, 8];
const random = (() => {
  let s = 7;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
})();
const q = Array.from({ length: 3 * heads * dim }, random); // [S=3, Hi, Di]
const w = Array.from({ length: 3 * heads }, random); //          [S, Hi]
const keys = Array.from({ length: keysCount * dim }, random); // [T, Di], one sequence, slots 0..39
const positions = [20, 30, 39]; // each query sees positions 0 ..= its own
const blockSize = 64;
const batch = {
  positions: uploadTensor(backend, 'i32', [3], positions),
  sequenceIds: uploadTensor(backend, 'i32', [3], [0, 0, 0]),
  blockTable: uploadTensor(backend, 'i32', [1, 1], [0]),
  blockSize,
  host: {
    positions: Int32Array.from(positions),
    sequenceIds: new Int32Array(3),
    blockTable: Int32Array.of(0),
    maxBlocks: 1,
  },
};
const indices = uploadTensor(backend, 'i32', [3, k], new Array(3 * k).fill(0));
const keyCache = {
  keys: uploadTensor(
    backend,
    'f32',
    [blockSize, dim],
    [...keys, ...new Array((blockSize - keysCount) * dim).fill(0)],
  ),
};
indexerTopk(
  backend,
  new Workspace(backend),
  indices,
  uploadTensor(backend, 'f32', [3, heads, dim], q),
  uploadTensor(backend, 'f32', [3, heads], w),
  keyCache,
  batch,
  k,
);
const got = new Int32Array(3 * k);
await backend.download(indices, got);

// The same in plain JavaScript: score[t] = Σ_h w[h] · relu(q[h] · key[t]) over t ≤ position.
const expected = positions.map((p, s) => {
  const scores = Array.from({ length: p + 1 }, (_, t) => {
    let score = 0;
    for (let h = 0; h < heads; h++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += q[(s * heads + h) * dim + d] * keys[t * dim + d];
      score += w[s * heads + h] * Math.max(0, dot);
    }
    return [score, t];
  });
  return scores
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, t]) => t)
    .sort((a, b) => a - b);
});
const ok = expected.every((row, s) => row.every((t, j) => t === got[s * k + j]));
console.log(
  JSON.stringify({
    topk: Array.from({ length: 3 }, (_, s) => Array.from(got.subarray(s * k, (s + 1) * k))),
    matches_plain_js: ok,
  }),
);
process.exitCode = ok ? 0 : 1;
