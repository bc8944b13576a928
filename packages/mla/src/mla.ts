import {
  type AttentionBatch,
  type Backend,
  type LatentCache,
  type LinearWeight,
  linears,
  mlaAttention,
  type RotaryTable,
  scatterLatentRows,
  type Workspace,
} from '@dsa/backend';
import { narrow, permute, reshape, splitDim, type TensorView } from '@dsa/tensor';
import type { ExtraProjected, ExtraProjections } from './extra-projections.js';
import type { MlaDims, MlaWeights } from './mla-weights.js';

/** What {@link Mla.project} computed for the step, consumed by {@link Mla.attend} and the indexer. */
export interface MlaProjection {
  /** `[S, qLora]`: the normed query latent, also the indexer's input (null without low-rank q). */
  readonly qr: TensorView | null;
  /** `[S, H, C+R]`: absorbed queries `[q_nope · W_UK | rope(q_pe)]`. */
  readonly q: TensorView;
  /** The outputs of the `extra` projections {@link Mla.project} was asked for (empty lists when none). */
  readonly extra: ExtraProjected;
}

/**
 * Multi-head Latent Attention of one layer, in the absorbed (MQA) form over the latent cache:
 * each cached token stores `[kv_a_layernorm(c_kv) | rope(k_pe)]` (C + R values), never per-head K/V.
 */
export class Mla {
  constructor(
    /** The backend that runs the kernels. */
    readonly backend: Backend,
    /** Sizes of this layer. */
    readonly dims: MlaDims,
    /** The layer's `self_attn` checkpoint tensors. */
    readonly weights: MlaWeights,
  ) {}

  /**
   * Projects the normed hidden states `x` [S, D] of the step: writes each token's latent row into
   * `latentCache` ([slots, C+R] f32/bf16, or fp8 rows quantized on write) at `writeSlots` i32 [S] and
   * returns the absorbed queries. `extra` projections of x and of the query latent (the indexer's) are
   * computed in the same `linears` calls as `q_a_proj` with `kv_a_proj_with_mqa` and as `q_b_proj`.
   */
  project(
    workspace: Workspace,
    x: TensorView,
    positions: TensorView,
    rotary: RotaryTable,
    latentCache: LatentCache,
    writeSlots: TensorView,
    extra: ExtraProjections = { x: [], qr: [] },
  ): MlaProjection {
    const k = this.backend.kernels;
    const { nHeads: h, kvLoraRank: c, qkNopeHeadDim: dn, qkRopeHeadDim: r, normEps } = this.dims;
    const s = x.shape[0]!;
    const w = this.weights;

    // q [S, H, Dn+R], and the latent row's projection kv [S, C+R], each input's weights in one `linears` call.
    let qr: TensorView | null = null;
    const q = workspace.tensor('f32', [s, h * (dn + r)]);
    const kv = workspace.tensor('f32', [s, c + r]);
    const outputs = (weights: readonly LinearWeight[]) =>
      weights.map((weight) => workspace.tensor('f32', [s, weight.weight.shape[0]!]));
    const extraX = outputs(extra.x);
    const extraQr = outputs(extra.qr);
    if (this.dims.qLoraRank !== null) {
      qr = workspace.tensor('f32', [s, this.dims.qLoraRank]);
      linears(this.backend, [qr, kv, ...extraX], x, [w.q_a_proj!, w.kv_a_proj_with_mqa, ...extra.x]);
      k.rmsNorm(qr, qr, w.q_a_layernorm!, normEps);
      linears(this.backend, [q, ...extraQr], qr, [w.q_b_proj!, ...extra.qr]);
    } else {
      linears(this.backend, [q, kv, ...extraX, ...extraQr], x, [
        w.q_proj!,
        w.kv_a_proj_with_mqa,
        ...extra.x,
        ...extra.qr,
      ]);
    }
    const qHeads = splitDim(q, 1, [h, dn + r]);
    k.rope(narrow(qHeads, 2, dn, r), positions, rotary.invFreq, {
      layout: 'interleaved',
      scale: rotary.attentionFactor,
    });

    // latent row [S, C+R] = [rmsNorm(c_kv) | rope(k_pe)]
    const cKv = narrow(kv, 1, 0, c);
    k.rmsNorm(cKv, cKv, w.kv_a_layernorm, normEps);
    k.rope(splitDim(narrow(kv, 1, c, r), 1, [1, r]), positions, rotary.invFreq, {
      layout: 'interleaved',
      scale: rotary.attentionFactor,
    });
    scatterLatentRows(this.backend, workspace, latentCache, kv, writeSlots);

    // absorbed q [S, H, C+R]: q_nope [H, S, Dn] · W_UK [H, Dn, C] → [H, S, C]; then the rope part.
    const qAbsorbed = workspace.tensor('f32', [s, h, c + r]);
    const wkvB = splitDim(w.kv_b_proj, 0, [h, dn + this.dims.vHeadDim]); // [H, Dn+Dv, C]
    k.matmul(
      permute(narrow(qAbsorbed, 2, 0, c), [1, 0, 2]),
      permute(narrow(qHeads, 2, 0, dn), [1, 0, 2]),
      narrow(wkvB, 1, 0, dn),
    );
    this.backend.copy(narrow(qAbsorbed, 2, c, r), narrow(qHeads, 2, dn, r));
    return { qr, q: qAbsorbed, extra: { x: extraX, qr: extraQr } };
  }

  /**
   * Attends with the absorbed queries over the latent cache (sparse over `indices` i32 [S, K], or
   * dense causal when null) and applies W_UV and `o_proj`. Returns [S, D].
   */
  attend(
    workspace: Workspace,
    projection: MlaProjection,
    latentCache: LatentCache,
    batch: AttentionBatch,
    indices: TensorView | null,
  ): TensorView {
    const k = this.backend.kernels;
    const { nHeads: h, kvLoraRank: c, qkNopeHeadDim: dn, vHeadDim: dv, softmaxScale } = this.dims;
    const s = projection.q.shape[0]!;
    const oLatent = workspace.tensor('f32', [s, h, c]);
    mlaAttention(this.backend, workspace, oLatent, projection.q, latentCache, batch, indices, softmaxScale);
    // o [S, H, Dv]: per head o_lat [S, C] · W_UV[h]ᵀ, W_UV [H, Dv, C]
    const o = workspace.tensor('f32', [s, h, dv]);
    const wkvB = splitDim(this.weights.kv_b_proj, 0, [h, dn + dv]);
    k.matmul(permute(o, [1, 0, 2]), permute(oLatent, [1, 0, 2]), narrow(wkvB, 1, dn, dv), {
      transposeB: true,
    });
    const out = workspace.tensor('f32', [s, this.dims.dim]);
    k.linear(out, reshape(o, [s, h * dv]), this.weights.o_proj);
    return out;
  }
}
