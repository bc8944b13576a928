import koffi, { type LibraryHandle } from 'koffi';
import type { LibraryLookup } from './library-paths.js';

type Fn = (...args: unknown[]) => unknown;

/** Parameters of the unary aclnn operators. */
const UNARY = ['void* self', 'void* out'] as const;
/** Parameters of the binary aclnn operators without `alpha`. */
const BINARY = ['void* self', 'void* other', 'void* out'] as const;

/**
 * Parameters of each aclnn operator's `aclnnXxxGetWorkspaceSize`, before the trailing
 * `uint64_t* workspaceSize, aclOpExecutor** executor` (handles are `void*`). Checked against the
 * public CANN headers: see docs/backends/ascend.md for versions and the list of unconfirmed ones.
 */
export const ACLNN_OPERATORS = {
  InplaceFillScalar: ['void* selfRef', 'void* value'],
  Cast: ['void* self', 'int dtype', 'void* out'],
  InplaceCopy: ['void* selfRef', 'void* src'],
  Add: ['void* self', 'void* other', 'void* alpha', 'void* out'],
  Sub: ['void* self', 'void* other', 'void* alpha', 'void* out'],
  Mul: BINARY,
  Div: BINARY,
  Maximum: BINARY,
  Minimum: BINARY,
  Muls: BINARY,
  Divs: BINARY,
  Clamp: ['void* self', 'void* clipValueMin', 'void* clipValueMax', 'void* out'],
  PowScalarTensor: ['void* self', 'void* exponent', 'void* out'],
  NanToNum: ['void* self', 'float nan', 'float posinf', 'float neginf', 'void* out'],
  Silu: UNARY,
  Relu: UNARY,
  Exp: UNARY,
  Sigmoid: UNARY,
  Neg: UNARY,
  Sqrt: UNARY,
  Reciprocal: UNARY,
  Abs: UNARY,
  Cos: UNARY,
  Sin: UNARY,
  Log2: UNARY,
  Ceil: UNARY,
  Matmul: ['void* self', 'void* mat2', 'void* out', 'int8_t cubeMathType'],
  BatchMatMul: ['void* self', 'void* mat2', 'void* out', 'int8_t cubeMathType'],
  RmsNorm: ['void* x', 'void* gamma', 'double epsilon', 'void* yOut', 'void* rstdOut'],
  LayerNorm: [
    'void* input',
    'void* normalizedShape',
    'void* weightOptional',
    'void* biasOptional',
    'double eps',
    'void* out',
    'void* meanOutOptional',
    'void* rstdOutOptional',
  ],
  Softmax: ['void* self', 'int64_t dim', 'void* out'],
  ReduceSum: ['void* self', 'void* dim', 'bool keepDim', 'int dtype', 'void* out'],
  Amax: ['void* self', 'void* dim', 'bool keepDim', 'void* out'],
  Topk: [
    'void* self',
    'int64_t k',
    'int64_t dim',
    'bool largest',
    'bool sorted',
    'void* valuesOut',
    'void* indicesOut',
  ],
  IndexSelect: ['void* self', 'int64_t dim', 'void* index', 'void* out'],
  InplaceIndexCopy: ['void* selfRef', 'int64_t dim', 'void* index', 'void* source'],
  IndexAdd: ['void* self', 'int64_t dim', 'void* index', 'void* source', 'void* alpha', 'void* out'],
  // The MoE operators of ops-transformer (libopapi.so on CANN 8.x); see docs/backends/ascend.md for the sources.
  MoeGatingTopK: [
    'void* x',
    'void* biasOptional',
    'int64_t k',
    'int64_t kGroup',
    'int64_t groupCount',
    'int64_t groupSelectMode',
    'int64_t renorm',
    'int64_t normType',
    'bool outFlag',
    'double routedScalingFactor',
    'double eps',
    'void* yOut',
    'void* expertIdxOut',
    'void* outOut',
  ],
  MoeInitRoutingV2: [
    'void* x',
    'void* expertIdx',
    'int64_t activeNum',
    'int64_t expertCapacity',
    'int64_t expertNum',
    'int64_t dropPadMode',
    'int64_t expertTokensCountOrCumsumFlag',
    'bool expertTokensBeforeCapacityFlag',
    'void* expandedXOut',
    'void* expandedRowIdxOut',
    'void* expertTokensCountOrCumsumOut',
    'void* expertTokensBeforeCapacityOut',
  ],
  GroupedMatmulV4: [
    'void* x',
    'void* weight',
    'void* biasOptional',
    'void* scaleOptional',
    'void* offsetOptional',
    'void* antiquantScaleOptional',
    'void* antiquantOffsetOptional',
    'void* perTokenScaleOptional',
    'void* groupListOptional',
    'void* activationInputOptional',
    'void* activationQuantScaleOptional',
    'void* activationQuantOffsetOptional',
    'int64_t splitItem',
    'int64_t groupType',
    'int64_t groupListType',
    'int64_t actType',
    'void* out',
    'void* activationFeatureOutOptional',
    'void* dynQuantScaleOutOptional',
  ],
} as const;

/**
 * The DSA custom operators, bound from `libcust_opapi.so` only: their generated signatures change
 * between the cann-recipes-infer custom package (bound here) and later ops-transformer releases,
 * and a wrong arity crashes inside GetWorkspaceSize.
 */
export const CUSTOM_ACLNN_OPERATORS = {
  LightningIndexer: [
    'void* query',
    'void* key',
    'void* weights',
    'void* actualSeqLengthsQueryOptional',
    'void* actualSeqLengthsKeyOptional',
    'void* blockTableOptional',
    'const char* layoutQuery',
    'const char* layoutKey',
    'int64_t sparseCount',
    'int64_t sparseMode',
    'void* sparseIndicesOut',
  ],
  SparseFlashAttention: [
    'void* query',
    'void* key',
    'void* value',
    'void* sparseIndices',
    'void* blockTableOptional',
    'void* actualSeqLengthsQueryOptional',
    'void* actualSeqLengthsKvOptional',
    'void* queryRopeOptional',
    'void* keyRopeOptional',
    'double scaleValue',
    'int64_t sparseBlockSize',
    'const char* layoutQueryOptional',
    'const char* layoutKvOptional',
    'int64_t sparseMode',
    'void* out',
  ],
} as const;

/** Name of an aclnn operator the backend binds (`aclnn<Name>`). */
export type AclnnOperator = keyof typeof ACLNN_OPERATORS | keyof typeof CUSTOM_ACLNN_OPERATORS;

/** One bound operator: its two phases. */
export interface AclnnBinding {
  /** `aclnnXxxGetWorkspaceSize(args..., uint64_t* workspaceSize, aclOpExecutor** executor)` */
  readonly getWorkspaceSize: Fn;
  /** `aclnnXxx(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor, aclrtStream stream)` */
  readonly launch: Fn;
}

/** The CANN C functions the backend calls, bound through koffi, split by library. */
export interface AclApi {
  /** libascendcl.so */
  readonly runtime: {
    aclInit: Fn;
    aclrtSetDevice: Fn;
    aclrtGetDeviceCount: Fn;
    aclrtGetMemInfo: Fn;
    aclrtGetSocName: Fn;
    aclrtCreateStream: Fn;
    aclrtDestroyStream: Fn;
    aclrtSynchronizeStream: Fn;
    aclrtMalloc: Fn;
    aclrtFree: Fn;
    aclrtMallocHost: Fn;
    aclrtFreeHost: Fn;
    /** `aclrtMemcpy` with a JS buffer as the host destination (D2H or H2H). */
    memcpyToHost: Fn;
    /** `aclrtMemcpy` with a JS buffer as the host source (H2H into pinned memory). */
    memcpyFromHost: Fn;
    aclrtMemcpyAsync: Fn;
    aclGetRecentErrMsg: Fn;
  };
  /** libnnopbase.so */
  readonly descriptors: {
    aclCreateTensor: Fn;
    aclDestroyTensor: Fn;
    aclCreateIntArray: Fn;
    aclDestroyIntArray: Fn;
    aclCreateScalar: Fn;
    aclDestroyScalar: Fn;
    /** Takes ownership of its members: aclDestroyTensorList destroys them. */
    aclCreateTensorList: Fn;
    aclDestroyTensorList: Fn;
  };
  /** libopapi.so (and libcust_opapi.so): the operators found; absent ones are missing from the install. */
  readonly operators: Partial<Record<AclnnOperator, AclnnBinding>>;
  /** Operators whose symbols were not found in the loaded libraries. */
  readonly missing: readonly AclnnOperator[];
}

function bindOperator(lib: LibraryHandle, name: AclnnOperator): AclnnBinding | undefined {
  const own = name in ACLNN_OPERATORS ? ACLNN_OPERATORS[name as keyof typeof ACLNN_OPERATORS] : undefined;
  const declared = own ?? CUSTOM_ACLNN_OPERATORS[name as keyof typeof CUSTOM_ACLNN_OPERATORS];
  const params = [...declared, '_Out_ uint64_t* workspaceSize', '_Out_ void** executor'];
  try {
    return {
      getWorkspaceSize: lib.func(`int aclnn${name}GetWorkspaceSize(${params.join(', ')})`) as Fn,
      launch: lib.func(
        `int aclnn${name}(uintptr_t workspace, uint64_t workspaceSize, void* executor, void* stream)`,
      ) as Fn,
    };
  } catch {
    return undefined;
  }
}

/** Loads the libraries found by `findAscendLibraries` and binds every function; throws naming the library on failure. */
export function loadAclApi(lookup: Extract<LibraryLookup, { found: true }>): AclApi {
  const load = (file: string) => {
    try {
      return koffi.load(file);
    } catch (error) {
      throw new Error(`cannot load ${file}: ${(error as Error).message}`);
    }
  };
  const rt = load(lookup.paths.runtime);
  const nn = load(lookup.paths.descriptors);
  const op = load(lookup.paths.operators);
  const custom = lookup.paths.custom ? load(lookup.paths.custom) : undefined;
  const f = (lib: LibraryHandle, decl: string) => lib.func(decl) as Fn;
  const runtime = {
    aclInit: f(rt, 'int aclInit(const char* configPath)'),
    aclrtSetDevice: f(rt, 'int aclrtSetDevice(int32_t deviceId)'),
    aclrtGetDeviceCount: f(rt, 'int aclrtGetDeviceCount(_Out_ uint32_t* count)'),
    aclrtGetMemInfo: f(rt, 'int aclrtGetMemInfo(int attr, _Out_ size_t* free, _Out_ size_t* total)'),
    aclrtGetSocName: f(rt, 'const char* aclrtGetSocName()'),
    aclrtCreateStream: f(rt, 'int aclrtCreateStream(_Out_ void** stream)'),
    aclrtDestroyStream: f(rt, 'int aclrtDestroyStream(void* stream)'),
    aclrtSynchronizeStream: f(rt, 'int aclrtSynchronizeStream(void* stream)'),
    aclrtMalloc: f(rt, 'int aclrtMalloc(_Out_ uintptr_t* devPtr, size_t size, int policy)'),
    aclrtFree: f(rt, 'int aclrtFree(uintptr_t devPtr)'),
    aclrtMallocHost: f(rt, 'int aclrtMallocHost(_Out_ uintptr_t* hostPtr, size_t size)'),
    aclrtFreeHost: f(rt, 'int aclrtFreeHost(uintptr_t hostPtr)'),
    memcpyToHost: rt.func('aclrtMemcpy', 'int', ['void*', 'size_t', 'uintptr_t', 'size_t', 'int']) as Fn,
    memcpyFromHost: rt.func('aclrtMemcpy', 'int', ['uintptr_t', 'size_t', 'void*', 'size_t', 'int']) as Fn,
    aclrtMemcpyAsync: f(
      rt,
      'int aclrtMemcpyAsync(uintptr_t dst, size_t destMax, uintptr_t src, size_t count, int kind, void* stream)',
    ),
    aclGetRecentErrMsg: f(rt, 'const char* aclGetRecentErrMsg()'),
  };
  const descriptors = {
    aclCreateTensor: f(
      nn,
      'void* aclCreateTensor(const int64_t* viewDims, uint64_t viewDimsNum, int dataType, const int64_t* stride, int64_t offset, int format, const int64_t* storageDims, uint64_t storageDimsNum, uintptr_t tensorData)',
    ),
    aclDestroyTensor: f(nn, 'int aclDestroyTensor(void* tensor)'),
    aclCreateIntArray: f(nn, 'void* aclCreateIntArray(const int64_t* value, uint64_t size)'),
    aclDestroyIntArray: f(nn, 'int aclDestroyIntArray(void* array)'),
    aclCreateScalar: f(nn, 'void* aclCreateScalar(const double* value, int dataType)'),
    aclDestroyScalar: f(nn, 'int aclDestroyScalar(void* scalar)'),
    aclCreateTensorList: f(nn, 'void* aclCreateTensorList(void** value, uint64_t size)'),
    aclDestroyTensorList: f(nn, 'int aclDestroyTensorList(void* list)'),
  };
  const operators: Partial<Record<AclnnOperator, AclnnBinding>> = {};
  const missing: AclnnOperator[] = [];
  for (const name of Object.keys(ACLNN_OPERATORS) as AclnnOperator[]) {
    const bound = bindOperator(op, name);
    if (bound) operators[name] = bound;
    else missing.push(name);
  }
  for (const name of Object.keys(CUSTOM_ACLNN_OPERATORS) as AclnnOperator[]) {
    const bound = custom ? bindOperator(custom, name) : undefined;
    if (bound) operators[name] = bound;
    else missing.push(name);
  }
  return { runtime, descriptors, operators, missing };
}
