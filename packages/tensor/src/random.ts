/**
 * A small seeded generator (mulberry32): the same numbers on every platform and backend (test inputs, the
 * `random` selector, generated evaluation data).
 */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Approximately normal(0, scale), from the sum of uniforms. */
  normal(scale = 1): number {
    return (this.next() + this.next() + this.next() + this.next() - 2) * Math.sqrt(3) * scale;
  }
  /** `n` normal values. */
  normals(n: number, scale = 1): number[] {
    return Array.from({ length: n }, () => this.normal(scale));
  }
  /** Integer in [0, max). */
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  /** `k` distinct integers of [0, n), in random order (a partial Fisher-Yates shuffle). */
  sample(n: number, k: number): number[] {
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, k);
  }
}
