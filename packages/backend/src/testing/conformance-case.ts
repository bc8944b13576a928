import type { DType } from '@dsa/tensor';
import { Random } from '@dsa/tensor';
import type { Backend } from '../backend.js';

/**
 * One conformance check: `run` builds its inputs from `random` on the given backend, runs kernels,
 * and returns host copies of the outputs. It runs on the candidate and on the oracle (the reference
 * backend) with the same seed, and the outputs must agree within `tolerance`.
 */
export interface ConformanceCase {
  readonly name: string;
  /** The kernel (or fused kernel) under test. */
  readonly kernel: string;
  /** Largest allowed max|candidate - oracle| / max(1, max|oracle|); 0 demands identical results. */
  readonly tolerance: number;
  /** The weight dtype a `linear` case needs; the case is skipped on backends whose capabilities lack it. */
  readonly linearWeightDtype?: DType;
  run(backend: Backend, random: Random): Promise<ArrayLike<number>[]>;
}

/** Weight dtypes `linear` accepts when a backend's capabilities do not say. */
const DEFAULT_LINEAR_WEIGHT_DTYPES: readonly DType[] = ['f32', 'bf16', 'f16', 'f8_e4m3'];

/** The outcome of one case. */
export interface ConformanceResult {
  readonly name: string;
  readonly kernel: string;
  readonly error: number;
  readonly tolerance: number;
  readonly passed: boolean;
  /** True when the case does not apply to the candidate (a weight dtype it does not declare). */
  readonly skipped?: boolean;
}

/** Runs `testCase` on both backends with the same seed and compares the outputs. */
export async function checkConformance(
  testCase: ConformanceCase,
  candidate: Backend,
  oracle: Backend,
  seed = 1234,
): Promise<ConformanceResult> {
  const dtype = testCase.linearWeightDtype;
  if (dtype !== undefined) {
    const declared = candidate.capabilities.linearWeightDtypes;
    if (!(declared ? declared.has(dtype) : DEFAULT_LINEAR_WEIGHT_DTYPES.includes(dtype))) {
      return {
        name: testCase.name,
        kernel: testCase.kernel,
        error: 0,
        tolerance: testCase.tolerance,
        passed: true,
        skipped: true,
      };
    }
  }
  const got = await testCase.run(candidate, new Random(seed));
  const want = await testCase.run(oracle, new Random(seed));
  let error = 0;
  if (got.length !== want.length) error = Number.POSITIVE_INFINITY;
  for (let o = 0; o < want.length && Number.isFinite(error); o++) {
    const a = got[o]!;
    const b = want[o]!;
    if (a.length !== b.length) {
      error = Number.POSITIVE_INFINITY;
      break;
    }
    let scale = 1;
    for (let i = 0; i < b.length; i++) if (Number.isFinite(b[i]!)) scale = Math.max(scale, Math.abs(b[i]!));
    for (let i = 0; i < b.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (x === y) continue; // equal infinities included
      if (Number.isNaN(x) !== Number.isNaN(y) || !Number.isFinite(x) || !Number.isFinite(y)) {
        error = Number.POSITIVE_INFINITY;
        break;
      }
      error = Math.max(error, Math.abs(x - y) / scale);
    }
  }
  return {
    name: testCase.name,
    kernel: testCase.kernel,
    error,
    tolerance: testCase.tolerance,
    passed: error <= testCase.tolerance,
  };
}
