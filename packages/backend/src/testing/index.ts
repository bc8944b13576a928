// @dsa/backend/testing: the conformance kit every backend runs against the reference backend.
export { type ConformanceCase, type ConformanceResult, checkConformance } from './conformance-case.js';
export { uploadLinearWeight } from './linear-weights.js';
export { MOE_ROUTE_CASES, type MoeRouteCase } from './moe-route-cases.js';
export {
  emptyTensor,
  mismatches,
  type PagedLayout,
  relativeError,
  SMALL_PAGED_LAYOUT,
  sparseIndices,
  uploadBatch,
} from './paged-batch.js';
export { primitiveCases } from './primitive-cases.js';
export { Random } from './random.js';
