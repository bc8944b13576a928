/**
 * Adaptive top-k: how many of the indexer's top-k candidates a query actually attends to.
 *
 * - `fixed`: all k (DeepSeek's rule; the hot path, no extra work).
 * - `mass`: per query and layer, the smallest set of the best-scored candidates whose share of the
 *   softmax of the index scores (over every causal key) reaches `p`, capped at k.
 * - `entropy`: per query and layer, the ⌈c · exp(H)⌉ best candidates (capped at k, at least 1), where H is
 *   the entropy of the softmax of the index scores over every causal key: exp(H) is the effective number of
 *   keys the indexer spreads its mass over, so a peaked indexer attends to few keys and a flat one to many.
 */
export type TopkPolicy =
  | {
      /** Attend to every selected position. */
      readonly kind: 'fixed';
    }
  | {
      /** Smallest best-first set holding `p` of the index-score softmax. */
      readonly kind: 'mass';
      /** Share of the softmax mass to reach, in (0, 1]. */
      readonly p: number;
    }
  | {
      /** ⌈c · exp(entropy)⌉ best positions. */
      readonly kind: 'entropy';
      /** Multiplier of the effective number of keys exp(H), > 0. */
      readonly c: number;
    };

/** The default policy: attend to every selected candidate. */
export const FIXED_TOPK: TopkPolicy = { kind: 'fixed' };

/**
 * Parses `fixed`, `mass:P` (0 < P ≤ 1) or `entropy:C` (C > 0).
 * @throws RangeError naming the text and what is expected.
 */
export function parseTopkPolicy(text: string): TopkPolicy {
  const [kind, arg, ...rest] = text.trim().split(':');
  const value = arg === undefined ? Number.NaN : Number(arg);
  if (kind === 'fixed' && arg === undefined) return FIXED_TOPK;
  if (rest.length === 0 && kind === 'mass' && value > 0 && value <= 1) return { kind: 'mass', p: value };
  if (rest.length === 0 && kind === 'entropy' && value > 0 && Number.isFinite(value))
    return { kind: 'entropy', c: value };
  throw new RangeError(
    `top-k policy ${JSON.stringify(text)}: expected "fixed", "mass:P" with 0 < P <= 1, or "entropy:C" with C > 0`,
  );
}

/** The policy as the CLI writes it (`fixed`, `mass:0.9`, `entropy:2`). */
export function formatTopkPolicy(policy: TopkPolicy): string {
  if (policy.kind === 'mass') return `mass:${policy.p}`;
  if (policy.kind === 'entropy') return `entropy:${policy.c}`;
  return 'fixed';
}

/**
 * Applies `policy` to one layer's selection, in place. `indices` i32 [S, K] (ascending positions, -1
 * padded) and `probs` f32 [S, K] (each selected key's softmax probability over all causal keys; 0 where
 * the index is -1); `entropy` f32 [S] (the entropy of that softmax; needed by `entropy` only). Kept
 * indices stay ascending, dropped ones become -1 at the end of the row. Returns the kept count per row.
 */
export function applyTopkPolicy(
  policy: TopkPolicy,
  indices: Int32Array,
  probs: Float32Array,
  entropy: Float32Array | null,
  rows: number,
  k: number,
): Int32Array {
  const kept = new Int32Array(rows);
  const order = Array.from({ length: k }, (_, i) => i);
  for (let r = 0; r < rows; r++) {
    const base = r * k;
    let valid = 0;
    while (valid < k && indices[base + valid]! >= 0) valid++;
    let keep = valid;
    // Candidates best first (ties to the lower position, as the selection itself breaks them).
    const byProb = order.slice(0, valid).sort((a, b) => probs[base + b]! - probs[base + a]! || a - b);
    if (policy.kind === 'mass') {
      let mass = 0;
      keep = 0;
      while (keep < valid && mass < policy.p) mass += probs[base + byProb[keep++]!]!;
    } else if (policy.kind === 'entropy') {
      if (!entropy) throw new Error('entropy top-k policy needs the entropy of each row');
      keep = Math.min(valid, Math.max(1, Math.ceil(policy.c * Math.exp(entropy[r]!))));
    }
    if (keep < valid) {
      const chosen = byProb
        .slice(0, keep)
        .map((i) => indices[base + i]!)
        .sort((a, b) => a - b);
      indices.fill(-1, base, base + k);
      indices.set(chosen, base);
    }
    kept[r] = keep;
  }
  return kept;
}
