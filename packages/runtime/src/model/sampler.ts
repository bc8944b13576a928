import type { Backend, SamplingRow, Workspace } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { TokenHistory } from './token-history.js';

/** What {@link Sampler.sample} returns, on the host, one entry per logits row. */
export interface SampledTokens {
  /** i32 [B]: the chosen token ids. */
  readonly ids: Int32Array;
  /** f32 [B]: the logprob of each chosen token, when asked for. */
  readonly logprobs: Float32Array | null;
  /** Alternatives per row (N), 0 when none were asked for. */
  readonly top: number;
  /** i32 [B, N]: the N most likely tokens per row, most likely first. */
  readonly topIds: Int32Array | null;
  /** f32 [B, N]: their logprobs. */
  readonly topLogprobs: Float32Array | null;
}

/**
 * Picks tokens from a step's logits on the device (the backend's `sample` kernel: penalties, bias,
 * temperature, top-k/p, min-p, logprobs) and brings back only the ids and the logprobs asked for. Its
 * output tensors live in the model's workspace, valid until the next step; token histories for the
 * penalties are device buffers of their own.
 */
export class Sampler {
  constructor(
    private readonly backend: Backend,
    private readonly workspace: Workspace,
  ) {}

  /**
   * The device history of a sequence whose penalties need it: `tokens` (the prompt's `promptLength`
   * ids, then any generated before), with room for `capacity` tokens in all. Dispose it when done.
   */
  createHistory(tokens: readonly number[], promptLength: number, capacity: number): TokenHistory {
    return new TokenHistory(this.backend, tokens, promptLength, capacity);
  }

  /**
   * Samples one token per row of `logits` f32 [B, V] with `rows` (one per logits row); with `logprobs`
   * (a count N ≥ 0) also the chosen tokens' logprobs and the N most likely alternatives. Downloads ids
   * first, then the logprobs.
   */
  async sample(
    logits: TensorView,
    rows: readonly SamplingRow[],
    logprobs: number | null,
  ): Promise<SampledTokens> {
    const b = rows.length;
    const ws = this.workspace;
    const top = logprobs ?? 0;
    const ids = ws.tensor('i32', [b]);
    const chosen = logprobs !== null ? ws.tensor('f32', [b]) : null;
    const topIds = top > 0 ? ws.tensor('i32', [b, top]) : null;
    const topLogprobs = top > 0 ? ws.tensor('f32', [b, top]) : null;
    this.backend.kernels.sample(ids, logits, rows, {
      ...(chosen ? { logprobs: chosen } : {}),
      ...(topIds ? { topIds } : {}),
      ...(topLogprobs ? { topLogprobs } : {}),
    });
    const download = async <T extends Int32Array | Float32Array>(view: TensorView | null, host: T) => {
      if (!view) return null;
      await this.backend.download(view, host);
      return host;
    };
    return {
      ids: (await download(ids, new Int32Array(b)))!,
      logprobs: await download(chosen, new Float32Array(b)),
      top,
      topIds: await download(topIds, new Int32Array(b * top)),
      topLogprobs: await download(topLogprobs, new Float32Array(b * top)),
    };
  }
}
