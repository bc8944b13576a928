/** The outcome of one device check (a conformance case or a fixture comparison). */
export interface CheckResult {
  /** `kernel: case` or `fixture/what`. */
  readonly name: string;
  /** The measured error (max relative or absolute difference; 0 for exact matches). */
  readonly error: number;
  /** The largest allowed error. */
  readonly tolerance: number;
  /** Whether the check passed. */
  readonly passed: boolean;
  /** Extra detail: the exception, or a mismatch description. */
  readonly detail?: string;
  /** Wall time of the check in milliseconds. */
  readonly ms: number;
}

/** One check line of the device log: `PASS/FAIL name error tolerance [detail]`. */
export function formatCheck(result: CheckResult): string {
  const error = Number.isFinite(result.error) ? result.error.toExponential(3) : String(result.error);
  return `${result.passed ? 'PASS' : 'FAIL'} ${result.name} error=${error} tolerance=${result.tolerance.toExponential(1)} ${result.ms.toFixed(0)}ms${result.detail ? ` ${result.detail}` : ''}`;
}

/** Runs `check`, turning an exception into a failed result (the message and first stack line as detail). */
export async function runCheck(
  name: string,
  tolerance: number,
  check: () => Promise<{ error: number; detail?: string }>,
): Promise<CheckResult> {
  const start = performance.now();
  try {
    const { error, detail } = await check();
    return {
      name,
      error,
      tolerance,
      passed: error <= tolerance,
      ms: performance.now() - start,
      ...(detail ? { detail } : {}),
    };
  } catch (failure) {
    const e = failure as Error;
    const where = e.stack?.split('\n')[1]?.trim() ?? '';
    return {
      name,
      error: Number.POSITIVE_INFINITY,
      tolerance,
      passed: false,
      ms: performance.now() - start,
      detail: `${e.name}: ${e.message} ${where}`,
    };
  }
}
