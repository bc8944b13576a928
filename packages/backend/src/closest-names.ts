/**
 * Edit distance between `a` and `b` (insertions, deletions, substitutions), computed only within a band
 * of width `max`: any result above `max` is reported as `max + 1`.
 */
export function boundedEditDistance(a: string, b: string, max: number): number {
  const n = a.length;
  const m = b.length;
  const over = max + 1;
  if (Math.abs(n - m) > max) return over;
  let prev = new Int32Array(m + 2).fill(over);
  let cur = new Int32Array(m + 2).fill(over);
  for (let j = 0; j <= Math.min(m, max); j++) prev[j] = j;
  for (let i = 1; i <= n; i++) {
    const lo = Math.max(1, i - max);
    const hi = Math.min(m, i + max);
    cur[lo - 1] = lo === 1 && i <= max ? i : over;
    let rowMin = cur[lo - 1]!;
    const ca = a.charCodeAt(i - 1);
    for (let j = lo; j <= hi; j++) {
      const substitute = prev[j - 1]! + (ca === b.charCodeAt(j - 1) ? 0 : 1);
      const v = Math.min(substitute, prev[j]! + 1, cur[j - 1]! + 1, over);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    cur[hi + 1] = over;
    if (rowMin >= over) return over;
    [prev, cur] = [cur, prev];
  }
  return prev[m]!;
}

/**
 * Up to `limit` names from `candidates` closest to `name` by edit distance, best first (ties by name).
 * Names further than a third of `name`'s length (at least 2 edits) are left out.
 */
export function closestNames(name: string, candidates: Iterable<string>, limit: number): string[] {
  let max = Math.max(2, Math.floor(name.length / 3));
  const best: { name: string; distance: number }[] = [];
  for (const candidate of candidates) {
    const distance = boundedEditDistance(name, candidate, max);
    if (distance > max) continue;
    best.push({ name: candidate, distance });
    best.sort((x, y) => x.distance - y.distance || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    if (best.length > limit) best.length = limit;
    if (best.length === limit) max = best[limit - 1]!.distance;
  }
  return best.map((b) => b.name);
}
