// The lightning indexer's projections computed by its caller (the attention computes wk · x, weights_proj · x and
// wq_b · qr in the same `linears` calls as its own projections, IndexerStep.projections) must select what the
// indexer selects when it projects by itself, and a selecting step must refuse projections it cannot score with.
import { downloadTensor, type LinearWeight, uploadTensor, Workspace } from '@dsa/backend';
import { Random, SMALL_PAGED_LAYOUT, uploadBatch, uploadLinearWeight } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { Indexer, type IndexerStep } from '@dsa/indexer';
import { describe, expect, it } from 'vitest';

const [D, Q_LORA, HI, DI, R, TOPK] = [24, 12, 2, 16, 8, 3];

function setup() {
  const backend = new ReferenceBackend();
  const random = new Random(5);
  const linear = (n: number, k: number): LinearWeight =>
    uploadLinearWeight(backend, 'f32', [n, k], random.normals(n * k, 0.3), () => []);
  const weights = {
    wq_b: linear(HI * DI, Q_LORA),
    wk: linear(DI, D),
    k_norm_weight: uploadTensor(
      backend,
      'f32',
      [DI],
      random.normals(DI, 0.1).map((v) => 1 + v),
    ),
    k_norm_bias: uploadTensor(backend, 'f32', [DI], random.normals(DI, 0.1)),
    weights_proj: linear(HI, D),
  };
  const indexer = new Indexer(
    backend,
    { indexNHeads: HI, indexHeadDim: DI, indexTopk: TOPK, qkRopeHeadDim: R },
    weights,
    'fp32',
  );
  const layout = SMALL_PAGED_LAYOUT;
  const s = layout.positions.length;
  const x = random.normals(s * D);
  const qr = random.normals(s * Q_LORA);
  const keys = random.normals(layout.slots * DI);
  const invFreq = Array.from({ length: R / 2 }, (_, i) => 10000 ** (-(2 * i) / R));
  const slots = layout.positions.map((p, i) => {
    const row = layout.blockTable[layout.sequenceIds[i]!]!;
    return row[Math.floor(p / layout.blockSize)]! * layout.blockSize + (p % layout.blockSize);
  });
  /** A fresh step over the same inputs (its own key cache, filled with the same earlier keys). */
  const step = (): IndexerStep => ({
    workspace: new Workspace(backend),
    x: uploadTensor(backend, 'f32', [s, D], x),
    qr: uploadTensor(backend, 'f32', [s, Q_LORA], qr),
    positions: uploadTensor(backend, 'i32', [s], [...layout.positions]),
    rotary: { invFreq: uploadTensor(backend, 'f32', [R / 2], invFreq), attentionFactor: 1 },
    keyCache: { keys: uploadTensor(backend, 'f32', [layout.slots, DI], keys) },
    writeSlots: uploadTensor(backend, 'i32', [s], slots),
    batch: uploadBatch(backend, layout),
  });
  /** The step with wk · x, weights_proj · x and wq_b · qr computed outside the indexer, as the attention does. */
  const projected = (select: boolean): IndexerStep => {
    const base = step();
    const want = indexer.projectionWeights(select);
    const outs = (input: typeof base.x, list: readonly LinearWeight[]) =>
      list.map((w) => {
        const out = base.workspace.tensor('f32', [s, w.weight.shape[0]!]);
        backend.kernels.linear(out, input, w);
        return out;
      });
    const projections = indexer.projectionsFrom(
      { x: outs(base.x, want.x), qr: outs(base.qr, want.qr) },
      select,
    );
    return { ...base, projections };
  };
  return { backend, indexer, step, projected, s };
}

describe('the indexer with its projections computed by the caller', () => {
  it('asks for wk alone when it does not score, else also weights_proj and wq_b', () => {
    const { indexer } = setup();
    const w = indexer.weights;
    expect(indexer.projectionWeights(false)).toEqual({ x: [w.wk], qr: [] });
    expect(indexer.projectionWeights(true)).toEqual({ x: [w.wk, w.weights_proj], qr: [w.wq_b] });
  });

  it('maps the outputs of those weights back in their order, and refuses other counts', () => {
    const { indexer, step } = setup();
    const { workspace } = step();
    const [a, b, c] = [1, 2, 3].map((n) => workspace.tensor('f32', [2, n]));
    expect(indexer.projectionsFrom({ x: [a!, b!], qr: [c!] }, true)).toEqual({ key: a, weights: b, q: c });
    expect(indexer.projectionsFrom({ x: [a!], qr: [] }, false)).toEqual({ key: a, weights: null, q: null });
    expect(() => indexer.projectionsFrom({ x: [a!], qr: [] }, true)).toThrow(
      'indexer projections: 1 of x and 0 of qr for 2 and 1 weights (selectTopk true)',
    );
    expect(() => indexer.projectionsFrom({ x: [a!, b!], qr: [c!] }, false)).toThrow(
      /2 of x and 1 of qr for 1 and 0/,
    );
  });

  it('selects the same positions and stores the same keys as when it projects by itself', async () => {
    const { backend, indexer, step, projected } = setup();
    const own = step();
    const ownIndices = indexer.forward(own, true)!;
    const given = projected(true);
    const givenIndices = indexer.forward(given, true)!;
    const picked = await downloadTensor(backend, ownIndices);
    expect([...(await downloadTensor(backend, givenIndices))]).toEqual([...picked]);
    expect(picked.some((t) => t > 0)).toBe(true);
    expect([...(await downloadTensor(backend, given.keyCache.keys))]).toEqual([
      ...(await downloadTensor(backend, own.keyCache.keys)),
    ]);
    // Keys only (a step that attends densely): the same cache again.
    const keysOnly = projected(false);
    expect(indexer.forward(keysOnly, false)).toBeNull();
    expect([...(await downloadTensor(backend, keysOnly.keyCache.keys))]).toEqual([
      ...(await downloadTensor(backend, own.keyCache.keys)),
    ]);
  });

  it('reads the projections it is given (not its own)', async () => {
    const { backend, indexer, step, projected, s } = setup();
    const own = step();
    indexer.forward(own, true);
    const given = projected(true);
    const zeros = uploadTensor(backend, 'f32', [s, DI], new Array(s * DI).fill(0));
    indexer.forward({ ...given, projections: { ...given.projections!, key: zeros } }, true);
    expect([...(await downloadTensor(backend, given.keyCache.keys))]).not.toEqual([
      ...(await downloadTensor(backend, own.keyCache.keys)),
    ]);
  });

  it('refuses, for a scoring step, projections without weights_proj · x or wq_b · qr', () => {
    const { indexer, projected } = setup();
    expect(() => indexer.forward(projected(false), true)).toThrow(
      /IndexerStep\.projections lack weights_proj · x or wq_b · qr/,
    );
  });
});
