import type { Backend } from '@dsa/backend';
import { type ConformanceCase, checkConformance, primitiveCases } from '@dsa/backend/testing';
import { type CheckResult, runCheck } from './check-result.js';

/** Every case of the conformance kit, named `kernel: case`. */
export function conformanceCases(): ConformanceCase[] {
  return primitiveCases();
}

/** Runs one conformance case on `candidate` against `oracle` (the reference backend). */
export function checkCase(
  testCase: ConformanceCase,
  candidate: Backend,
  oracle: Backend,
): Promise<CheckResult> {
  return runCheck(`${testCase.kernel}: ${testCase.name}`, testCase.tolerance, async () => {
    const result = await checkConformance(testCase, candidate, oracle);
    return { error: result.error };
  });
}
