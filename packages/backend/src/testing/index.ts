// @dsa/backend/testing: the conformance kit every backend runs against the reference backend.

export { Random } from '@dsa/tensor';
export { type ConformanceCase, type ConformanceResult, checkConformance } from './conformance-case.js';
export { FaultInjector, type FaultPlan } from './fault-injector.js';
export { type FusedCase, type FusedCaseOptions, type FusedOutcome, fusedCases } from './fused-cases.js';
export { type FuzzCorpusEntry, fuzzCorpus } from './fuzz-corpus.js';
export { DEFAULT_FUZZ_SEED, type FuzzSettings, fuzzSettings } from './fuzz-settings.js';
export { type FaultSite, InjectedFaultError } from './injected-fault-error.js';
export { uploadLinearWeight } from './linear-weights.js';
export { MOE_ROUTE_CASES, type MoeRouteCase } from './moe-route-cases.js';
export * from './paged-batch.js';
export { primitiveCases } from './primitive-cases.js';
