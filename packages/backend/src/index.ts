export { type AttentionBatch, slotOf } from './attention-batch.js';
export {
  type Backend,
  type BackendDiagnostics,
  type BackendFactory,
  type BackendName,
  type BackendOptions,
  type BufferUsage,
  type Capabilities,
  type CapturedGraph,
  type ComputeInfo,
  type DeviceBuffer,
  type DeviceInfo,
  type KernelProfile,
  type KernelTime,
  SPECIFICATION_VERSION,
  type Stream,
} from './backend.js';
export { backendBuffer } from './backend-buffer.js';
export { closestNames } from './closest-names.js';
export { addRmsNorm, compositeAddRmsNorm } from './composite/add-rms-norm.js';
export { causalMask } from './composite/causal-mask.js';
export type { CompositeHost, Scratch } from './composite/composite-host.js';
export { COMPOSITE_KERNELS, type CompositeKernels } from './composite/composite-kernels.js';
export {
  compositeIndexerTopK,
  compositeIndexerTopk,
  indexerRunScores,
  indexerTopK,
  indexerTopk,
} from './composite/indexer-top-k.js';
export { gatherLatentRows, scatterLatentRows } from './composite/latent-rows.js';
export { compositeLinears, expectLinearsArity, linears } from './composite/linears.js';
export { compositeMlaAttention, mlaAttention } from './composite/mla-attention.js';
export { compositeMoeExperts, moeExperts } from './composite/moe-experts.js';
export { compositeMoeRoute, moeRoute } from './composite/moe-route.js';
export {
  gatherSequenceRows,
  SCORE_BUDGET,
  type SequenceRun,
  sequenceRuns,
  slotMap,
} from './composite/sequence-runs.js';
export { compositeSwiglu, swiglu } from './composite/swiglu.js';
export { checkConfig } from './config-schema.js';
export { BackendUnavailableError } from './errors/backend-unavailable-error.js';
export { ConfigFileError } from './errors/config-file-error.js';
export { DsaError } from './errors/dsa-error.js';
export { InvalidSettingError } from './errors/invalid-setting-error.js';
export { KernelArgumentError } from './errors/kernel-argument-error.js';
export { UnsupportedError } from './errors/unsupported-error.js';
export {
  FP8_LATENT_BLOCK,
  type Fp8LatentCache,
  fp8LatentCache,
  fp8LatentRowBytes,
} from './fp8-latent-cache.js';
export {
  FUSED_KERNEL_NAMES,
  type FusedKernelName,
  type FusedKernels,
  type IndexerKeyCache,
  type MoeRouteOptions,
} from './fused-kernels.js';
export { type HostSample, logSoftmax, processLogits, sampleOnHost, sampleRow } from './host-sampling.js';
export { downloadTensor, encodeHost, uploadTensor } from './host-tensor.js';
export type { BinaryOp, KernelName, Kernels, RopeLayout, UnaryOp } from './kernels.js';
export { isFp8LatentCache, type LatentCache, latentCacheShape } from './latent-cache.js';
export type { ExpertWeights, LinearWeight } from './linear-weight.js';
export { BINARY_OPS, binaryOpCode, UNARY_OPS, unaryOpCode } from './op-codes.js';
export type { RotaryTable } from './rotary-table.js';
export { checkSampleArguments, type SampleSizes } from './sample-arguments.js';
export { rngUniform, type SamplingOutputs, type SamplingRow } from './sampling.js';
export {
  BACKEND_NAMES,
  type BackendConfigFile,
  type BackendReport,
  type BackendSpec,
  type CreateBackendOptions,
  createBackend,
  listBackends,
  loadBackendFactory,
  parseBackendSpec,
  readBackendConfig,
} from './select.js';
export {
  type ChoiceSettingSpec,
  type Environment,
  type FlagSettingSpec,
  type NumberSettingSpec,
  readSettings,
  type SelectionOverrides,
  type SettingSpec,
  type SettingsOf,
  type SettingValue,
  type StringSettingSpec,
  selectionOverrides,
} from './settings.js';
export { Workspace } from './workspace.js';
