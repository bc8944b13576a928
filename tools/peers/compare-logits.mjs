// Per-position comparison of two engines' teacher-forced logits, and perplexity from one engine's logits:
// the numbers tools/peers/llama-cpp.mjs reports.

/** Index of the largest entry of `row`. */
export function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** The gap between the largest and the second largest entry of `row` (how close top-1 is to flipping). */
export function top1Margin(row) {
  let first = Number.NEGATIVE_INFINITY;
  let second = Number.NEGATIVE_INFINITY;
  for (const v of row) {
    if (v > first) [first, second] = [v, first];
    else if (v > second) second = v;
  }
  return first - second;
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)];
};

/**
 * Compares logits `a` and `b` ([positions, vocab] each, several sequences of `context` rows back to back) row
 * by row: max |a − b| over all, top-1 agreement, and per position range (`ranges`, [from, to) within a
 * sequence, aggregated over the sequences) the median and max of the per-row max |a − b| and the top-1
 * agreement; `disagreements` lists each row whose top-1 differs with both engines' top-1 margins.
 */
export function compareLogits(a, b, vocab, positions, context, ranges) {
  const perRow = new Float64Array(positions);
  const agrees = new Uint8Array(positions);
  const disagreements = [];
  for (let p = 0; p < positions; p++) {
    const ra = a.subarray(p * vocab, (p + 1) * vocab);
    const rb = b.subarray(p * vocab, (p + 1) * vocab);
    let m = 0;
    for (let i = 0; i < vocab; i++) m = Math.max(m, Math.abs(ra[i] - rb[i]));
    perRow[p] = m;
    const [ta, tb] = [argmax(ra), argmax(rb)];
    agrees[p] = ta === tb ? 1 : 0;
    if (ta !== tb) {
      disagreements.push({
        sequence: Math.floor(p / context),
        position: p % context,
        top1_a: ta,
        top1_b: tb,
        margin_a: top1Margin(ra),
        margin_b: top1Margin(rb),
        max_abs_diff: m,
      });
    }
  }
  const byRange = ranges.map(([from, to]) => {
    const rows = [];
    for (let p = 0; p < positions; p++) if (p % context >= from && p % context < to) rows.push(p);
    const diffs = rows.map((p) => perRow[p]);
    return {
      window: `${from}-${to - 1}`,
      n_positions: rows.length,
      median_abs_diff: median(diffs),
      max_abs_diff: diffs.length === 0 ? Number.NaN : Math.max(...diffs),
      top1_agree: rows.reduce((n, p) => n + agrees[p], 0) / Math.max(1, rows.length),
    };
  });
  return {
    max_abs_diff: Math.max(...perRow),
    median_abs_diff: median(perRow),
    top1_agree: agrees.reduce((n, v) => n + v, 0) / positions,
    n_positions: positions,
    firstDiffOver: (t) => perRow.findIndex((d) => d > t),
    windows: byRange,
    disagreements,
  };
}

/**
 * Perplexity of `ids` (several sequences of `context` ids back to back) under teacher-forced `logits`
 * ([ids.length, vocab]): row i of a sequence predicts its id i + 1, scored for `from` ≤ i < context − 1
 * (`dsa eval --task perplexity` scores from index_topk, where the selection starts to be sparse).
 */
export function perplexity(logits, vocab, ids, context, from = 0) {
  let nll = 0;
  let n = 0;
  for (let start = 0; start + context <= ids.length; start += context) {
    for (let i = from; i < context - 1; i++) {
      const row = logits.subarray((start + i) * vocab, (start + i + 1) * vocab);
      let max = Number.NEGATIVE_INFINITY;
      for (const v of row) max = Math.max(max, v);
      let z = 0;
      for (const v of row) z += Math.exp(v - max);
      nll += Math.log(z) + max - row[ids[start + i + 1]];
      n++;
    }
  }
  return Math.exp(nll / n);
}
