/**
 * Watches generated text for stop strings. `push` returns the text that is safe to emit: it holds
 * back a tail that could still grow into a stop string, and stops at the first match.
 */
export class StopStringMatcher {
  private pending = '';
  private readonly longest: number;
  /** True once a stop string has matched; later pushes return nothing. */
  stopped = false;

  constructor(private readonly stops: readonly string[]) {
    this.longest = Math.max(0, ...stops.map((s) => s.length));
  }

  /** Adds decoded text; returns what may be emitted now. After a match, `stopped` is true. */
  push(text: string): string {
    if (this.stopped) return '';
    this.pending += text;
    let cut = -1;
    for (const stop of this.stops) {
      const at = this.pending.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      const out = this.pending.slice(0, cut);
      this.pending = '';
      return out;
    }
    const keep = Math.min(this.pending.length, Math.max(0, this.longest - 1));
    const out = this.pending.slice(0, this.pending.length - keep);
    this.pending = this.pending.slice(this.pending.length - keep);
    return out;
  }

  /** The held-back text, once generation ends without a match. */
  flush(): string {
    const out = this.stopped ? '' : this.pending;
    this.pending = '';
    return out;
  }
}
