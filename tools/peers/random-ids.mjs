/** `count` pseudo-random token ids in [0, range) from `seed` (xorshift32): the ids the peer tools feed. */
export function randomIds(count, range, seed) {
  let state = seed >>> 0 || 1;
  return Array.from({ length: count }, () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % range;
  });
}
