export { type CheckResult, formatCheck, runCheck } from './check-result.js';
export { checkCase, conformanceCases } from './conformance-checks.js';
export { behaviourChecks } from './device-behaviour-checks.js';
export { FIXTURES, fixtureChecks, PROMPT_LENGTHS } from './fixture-checks.js';
export { gemmChecks, gemmTolerance, MATMUL_TOLERANCE } from './gemm-checks.js';
