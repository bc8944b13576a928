/** Rows of a step before any step was measured, when a step memory budget is set. */
export const STEP_MEMORY_PROBE_ROWS = 64;

/**
 * A byte budget for one step's workspace (its activations), turned into rows (tokens) per step.
 *
 * A step holds a fixed part (its inputs, a few per-step tensors) plus per-row tensors (the residual
 * stream, one layer's projections, attention outputs and feed-forward intermediates at a time): about
 * F + r·P bytes for r rows, at V3.2's attention sizes P ≈ 1.1 MB per prefill row, so a 512-token chunk
 * takes ~570 MB. The budget is enforced from measurement, not from a formula of the model code: every
 * eager step reports its rows and its workspace high-water mark. Since F, P ≥ 0, a step of r rows needs
 * at most what a measured step of r' ≥ r rows took, and at most r · f'/r' after a measured step of
 * r' ≤ r rows that took f'; the rows given are the most that one of those bounds keeps within the budget.
 * While no measured step fits, the line through the two smallest measured steps gives the rows.
 * Before the first measurement a step takes at most {@link STEP_MEMORY_PROBE_ROWS} rows. Kernels whose
 * scratch grows with the context (the composite attention's score rows) make a later step at a longer
 * context somewhat larger than the bound: the budget is then met approximately.
 */
export class StepMemory {
  /** The largest workspace high-water mark seen per row count. */
  private readonly peaks = new Map<number, number>();

  constructor(
    /** Workspace bytes a step may use, or null for no budget. */
    readonly budget: number | null,
  ) {
    if (budget !== null && !(Number.isFinite(budget) && budget > 0))
      throw new RangeError(`step memory budget must be a positive number of bytes, got ${budget}`);
  }

  /** Records a finished step: `rows` tokens whose workspace reached `bytes` at its highest. */
  observe(rows: number, bytes: number): void {
    if (rows > 0) this.peaks.set(rows, Math.max(this.peaks.get(rows) ?? 0, bytes));
  }

  /** Rows a step may take, at most `limit` and at least 1: all of `limit` without a budget. */
  rows(limit: number): number {
    const budget = this.budget;
    if (budget === null) return limit;
    if (this.peaks.size === 0) return Math.max(1, Math.min(limit, STEP_MEMORY_PROBE_ROWS));
    let fit = 0;
    for (const [rows, bytes] of this.peaks) {
      // r ≥ rows fits while r · bytes / rows ≤ budget (a measured step that fits also covers every r ≤ rows).
      if (bytes <= budget) fit = Math.max(fit, Math.floor((budget * rows) / Math.max(bytes, 1)));
    }
    if (fit === 0) {
      // Every measured step was over the budget: the line F + r·P through the two smallest, or with one,
      // that step scaled down as if it had no fixed part (the next measurement corrects it).
      const [a, b] = [...this.peaks].sort((x, y) => x[0] - y[0]);
      const perRow = a && b ? (b[1] - a[1]) / (b[0] - a[0]) : 0;
      fit =
        a && b && perRow > 0
          ? Math.floor((budget - (a[1] - a[0] * perRow)) / perRow)
          : Math.floor((budget * a![0]) / a![1]);
    }
    return Math.max(1, Math.min(limit, fit));
  }
}
