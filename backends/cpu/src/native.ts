import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BufferUsage } from '@dsa/backend';

/** What the addon reports about itself and the machine. */
export interface NativeInfo {
  /** Highest ISA level the kernels use here: 0 portable, 1 AVX2, 2 AVX-512. */
  readonly isa: number;
  readonly isaName: string;
  /** Whether the CPU also runs the AVX-512-BF16 kernels (the opt-in `bf16` precision). */
  readonly avx512bf16: boolean;
  /**
   * Whether the `bf16` precision's matrix products run on AMX tiles (AMX-BF16, granted by the OS; `DSA_CPU_AMX=0`
   * turns them off): bf16 weights with K a multiple of 32 and attention of 16 heads at a time.
   */
  readonly amxBf16: boolean;
  readonly hardwareThreads: number;
  /** Threads the pool can run at once (the calling thread included). */
  readonly poolThreads: number;
  /** CPU brand string. */
  readonly cpu: string;
  /** Name of the GEMM kernel set in use. */
  readonly gemm: string;
}

/**
 * A kernel entry point: the argument block (see arguments.ts), plus the host copies of an attention
 * batch (checked by the call; the kernel reads the batch's device tensors when it runs). It checks
 * the arguments and enqueues the kernel on the block's queue, or appends it to the program the queue
 * is capturing.
 */
export type NativeKernel = (args: Float64Array, ...host: Int32Array[]) => void;

/** A wait on a queue: `undefined` when it finished at once, else a promise settled by the executor. */
export type NativeWait = Promise<void> | undefined;

/** The functions the compiled addon (native/addon.cc) exports. */
export interface NativeAddon {
  /** A buffer for `usage`: weights share huge-page slabs and are not zeroed; caches and activations are zeroed. */
  allocate(byteLength: number, usage: BufferUsage): number;
  free(id: number): void;
  /** Copies `source` now (idle queue or queue -1), else stages a copy and enqueues it. */
  upload(queue: number, id: number, byteOffset: number, source: Uint8Array): void;
  /** Copies into `destination` after every command queued before it (a large copy on up to `threads` threads). */
  download(
    queue: number,
    id: number,
    byteOffset: number,
    destination: Uint8Array,
    threads: number,
  ): NativeWait;
  /** Waits for every command queued so far; rejects with the first failure since the last wait. */
  synchronize(queue: number): NativeWait;
  /** A new in-order command queue with its own executor thread; returns its handle. */
  createQueue(): number;
  /** Closes a queue: queued commands still run and pending waits settle, later calls fail. */
  closeQueue(queue: number): void;
  /** Whether nothing is queued or running on `queue`. */
  queueIdle(queue: number): boolean;
  /** From now on kernel calls on `queue` are recorded into a program instead of run. */
  beginCapture(queue: number): void;
  /** Ends `queue`'s capture; returns the program's handle. */
  endCapture(queue: number): number;
  /** Enqueues one command on `queue` that runs `program`'s kernels in order, the pool kept hot. */
  replay(queue: number, program: number): void;
  /** Frees a program handle (replays already queued still run). */
  freeProgram(program: number): void;
  /** Names of `program`'s kernels, in order. */
  programOps(program: number): string[];
  /** Forgets `queue`'s command body times and starts timing them (off until the first call). */
  resetKernelTimes(queue: number): void;
  /** Once `queue` is idle: executor wall time inside command bodies since the last reset, by name. */
  kernelTimes(queue: number): { name: string; calls: number; ms: number }[];
  info(): NativeInfo;
  reserveThreads(threads: number): number;
  /** Sums a fresh buffer of `bytes` bytes with up to `threads` pool threads; best read GB/s of 3 passes. */
  memoryReadBandwidth(bytes: number, threads: number): number;
  /** Best f32 FMA GFLOP/s of `threads` pool threads with kernel set `isa`'s widest FMA (native/fma-peak.h). */
  fmaPeak(isa: number, threads: number): number;
  /** Test hook: fdlibm `log` / `exp` or rngUniform(input[i], i % 7, i) over `input`. */
  debugMath(which: 'log' | 'exp' | 'rng', input: Float64Array, output: Float64Array): void;
  /**
   * Test hook: the indexer's fp8 scoring loop `kernel` (`bf16`: vdpbf16ps, keys in the lanes; `avx512`:
   * f32 FMAs, heads in the lanes) over `keys` [n, Di] (f8_e4m3 bytes) with `scales` [n], q [Hi, Di] and
   * w [Hi]: `score[t] = scales[t] · Σ_h w[h] · ReLU(q[h] · key[t])`. False where the CPU or the shapes
   * (or, for bf16, a q not exact in bf16) do not allow that loop; `score` is then untouched.
   */
  debugIndexerScores(
    kernel: 'bf16' | 'avx512',
    q: Float32Array,
    w: Float32Array,
    keys: Uint8Array,
    scales: Float32Array,
    heads: number,
    headDim: number,
    score: Float32Array,
  ): boolean;
  fill: NativeKernel;
  cast: NativeKernel;
  copy: NativeKernel;
  gatherRows: NativeKernel;
  scatterRows: NativeKernel;
  indexAdd: NativeKernel;
  linear: NativeKernel;
  matmul: NativeKernel;
  rmsNorm: NativeKernel;
  layerNorm: NativeKernel;
  addRmsNorm: NativeKernel;
  rope: NativeKernel;
  softmax: NativeKernel;
  topK: NativeKernel;
  reduceSum: NativeKernel;
  gatherColumns: NativeKernel;
  scatterColumns: NativeKernel;
  unary: NativeKernel;
  binary: NativeKernel;
  swiglu: NativeKernel;
  hadamard: NativeKernel;
  quantizeFp8: NativeKernel;
  dequantizeFp8: NativeKernel;
  sample: NativeKernel;
  mlaAttention: NativeKernel;
  indexerTopK: NativeKernel;
  moeRoute: NativeKernel;
  linears: NativeKernel;
  moeExperts: NativeKernel;
}

/** The package root: `src/` and `dist/` both sit one level below it. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What to do when no binary loads: appended to the load error (and so to probe()'s reason). */
export const NO_BINARY_FIX =
  'No prebuilt binary fits this machine (the package ships one for linux-x64 with glibc >= 2.32 and GCC 12 libstdc++) ' +
  'and none was built from source. To build it, put python3, make and a C++17 compiler on PATH and run ' +
  '`npm rebuild @dsa/backend-cpu`; if npm skipped the install script, approve it first: ' +
  '`npm install-scripts approve @dsa/backend-cpu`.';

const loaded = new Map<string, { addon: NativeAddon } | { error: Error }>();

/**
 * Loads the compiled addon once per directory (from its `build/Release` or `prebuilds/`, via
 * node-gyp-build; default: this package). Never throws: a missing or broken build is returned as
 * `error`, whose message ends with how to fix it ({@link NO_BINARY_FIX}).
 */
export function loadNative(directory: string = PACKAGE_ROOT): { addon: NativeAddon } | { error: Error } {
  let result = loaded.get(directory);
  if (!result) {
    try {
      const require = createRequire(import.meta.url);
      const load = require('node-gyp-build') as (directory: string) => unknown;
      result = { addon: load(directory) as NativeAddon };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      result = { error: new Error(`${message}\n${NO_BINARY_FIX}`, { cause: error }) };
    }
    loaded.set(directory, result);
  }
  return result;
}
