import os from 'node:os';
import {
  type AttentionBatch,
  type Backend,
  type BackendOptions,
  type BufferUsage,
  backendBuffer,
  binaryOpCode,
  type Capabilities,
  type CapturedGraph,
  type ComputeInfo,
  type DeviceInfo,
  type ExpertWeights,
  expectLinearsArity,
  type FusedKernelName,
  type FusedKernels,
  type IndexerKeyCache,
  isFp8LatentCache,
  KernelArgumentError,
  type KernelProfile,
  type Kernels,
  type KernelTime,
  type LinearWeight,
  type MoeRouteOptions,
  type RopeLayout,
  type SamplingOutputs,
  type SamplingRow,
  SPECIFICATION_VERSION,
  type Stream,
  unaryOpCode,
} from '@dsa/backend';
import { formatShape, isContiguous, sameShape, type TensorView, viewByteLength } from '@dsa/tensor';
import { ArgumentBlock } from './arguments.js';
import { CpuBuffer } from './cpu-buffer.js';
import { CpuGraph } from './cpu-graph.js';
import { CPU_ISAS, type CpuBackendSettings, cpuSettings } from './cpu-settings.js';
import type { NativeAddon, NativeInfo, NativeKernel } from './native.js';

/** Awaits a native wait; a kernel that failed on the executor becomes a KernelArgumentError naming it. */
async function settle(operation: string, wait: Promise<void>): Promise<void> {
  try {
    await wait;
  } catch (error) {
    const failure = error as Error & { kernel?: string; detail?: string };
    throw new KernelArgumentError(failure.kernel ?? operation, failure.detail ?? failure.message);
  }
}

/** `cache[i]`, built by `build(i)` the first time: error names, not rebuilt on every kernel call. */
function namesOnce(
  cache: (readonly string[])[],
  i: number,
  build: (i: number) => string[],
): readonly string[] {
  let names = cache[i];
  if (!names) {
    names = build(i);
    cache[i] = names;
  }
  return names;
}

const expertNames: (readonly string[])[] = [];

/** Error names of expert `e`'s tensors (gate, up, down × weight, scaleInv). */
function expertTensorNames(e: number): readonly string[] {
  return namesOnce(expertNames, e, () =>
    ['gate', 'up', 'down'].flatMap((p) => [`experts[${e}].${p}.weight`, `experts[${e}].${p}.scaleInv`]),
  );
}

const linearsNames: (readonly string[])[] = [];

/** Error names of part `i` of a `linears` call: its output, weight and scaleInv. */
function linearsTensorNames(i: number): readonly string[] {
  return namesOnce(linearsNames, i, () => [`outs[${i}]`, `weights[${i}].weight`, `weights[${i}].scaleInv`]);
}

/** Appends one LinearWeight as (weight, scaleInv | none, blockN, blockK). */
function writeLinear(a: ArgumentBlock, linear: LinearWeight, weightName: string, scaleName: string): void {
  const block = linear.blockSize;
  a.tensor(linear.weight, weightName)
    .tensor(linear.scaleInv, scaleName)
    .number(block ? block[0] : 128)
    .number(block ? block[1] : 128);
}

/** The fused kernels this backend implements. */
export const CPU_FUSED_KERNELS: readonly FusedKernelName[] = [
  'addRmsNorm',
  'swiglu',
  'mlaAttention',
  'indexerTopk',
  'moeRoute',
  'linears',
  'moeExperts',
];

/** Closes the queue of a backend dropped without `dispose()`. */
const queueFinalizer = new FinalizationRegistry<{ addon: NativeAddon; queue: number }>(({ addon, queue }) =>
  addon.closeQueue(queue),
);

/** The argument-block queue handle of a disposed backend (the addon refuses it). */
const DISPOSED_QUEUE = -2;

/**
 * The native CPU backend. Device buffers are 64-byte aligned host allocations owned by the addon.
 * A kernel call checks its arguments on the calling thread (a bad view throws from the call) and
 * enqueues the kernel on the backend's in-order command queue; an executor thread runs queued
 * kernels one after another, each split over a persistent thread pool, so the event loop stays
 * free during a forward pass. `download` and `synchronize` return promises settled once every
 * earlier call has run; a kernel that fails on the executor (a check that needs the data, such as
 * an index out of range) rejects the next `download` / `synchronize` with its name. Every stream
 * maps to the one queue, so all work is ordered. {@link CpuBackend.captureGraph} records a kernel
 * sequence (a decode step) as a native program that one call replays.
 */
export class CpuBackend implements Backend {
  readonly specificationVersion = SPECIFICATION_VERSION;
  readonly name = 'cpu' as const;
  readonly device: DeviceInfo;
  readonly capabilities: Capabilities;
  readonly kernels: Kernels;
  readonly fused: Partial<FusedKernels>;
  /** Threads each kernel uses (the calling thread included). */
  readonly threads: number;
  /** ISA level of the kernels: 0 portable, 1 AVX2, 2 AVX-512, 3 AVX-512 with bf16 dot products. */
  readonly isa: number;
  /** Name of the kernel set in use: `portable`, `AVX2`, `AVX-512` or `AVX-512-BF16`. */
  readonly isaName: string;
  /** The precision in effect (see {@link CpuBackendSettings.precision}): `bf16` only where the CPU runs it. */
  readonly precision: 'f32' | 'bf16';

  /** `queued` or `synchronous` (see {@link CpuBackendSettings.execution}). */
  readonly execution: 'queued' | 'synchronous';

  /** The kernel set and threads (the contract's optional diagnostic, for peak-FLOP estimates). */
  get compute(): ComputeInfo {
    return { isa: this.isaName, threads: this.threads };
  }

  /**
   * Executor wall time inside kernel bodies (queued execution; null when synchronous). Timing starts
   * at the first `reset()`; dispatch, argument packing, the queue hand-off and waiting for the next
   * call are not counted (they are host time), pool threads woken inside a kernel are.
   */
  readonly kernelProfile: KernelProfile | null;

  private readonly addon: NativeAddon;
  /** Native queue handle; -1 in synchronous mode, DISPOSED_QUEUE once disposed. */
  private queue: number;
  private readonly args = new ArgumentBlock();
  private readonly buffers = new Set<CpuBuffer>();
  private readonly graphs = new Set<CpuGraph>();
  /** True while {@link CpuBackend.captureGraph} runs its `record`. */
  private capturing = false;
  private nextStream = 1;

  constructor(addon: NativeAddon, options: BackendOptions = {}) {
    this.addon = addon;
    const info: NativeInfo = addon.info();
    const requested = options.threads ?? info.hardwareThreads;
    if (!Number.isInteger(requested) || requested < 1) {
      throw new KernelArgumentError('create', `threads must be a positive integer, got ${requested}`);
    }
    this.threads = Math.min(addon.reserveThreads(requested), requested);
    const settings = cpuSettings(options.settings);
    const cap = settings.isa === undefined ? info.isa : CPU_ISAS.indexOf(settings.isa);
    const isa = Math.min(cap, info.isa);
    const bf16 = settings.precision === 'bf16' && info.avx512bf16 && isa === CPU_ISAS.indexOf('avx512');
    this.isa = bf16 ? isa + 1 : isa;
    this.precision = bf16 ? 'bf16' : 'f32';
    const execution = settings.execution;
    this.execution = execution;
    this.queue = execution === 'queued' ? addon.createQueue() : -1;
    if (this.queue >= 0) queueFinalizer.register(this, { addon, queue: this.queue }, this);
    this.isaName = ['portable', 'AVX2', 'AVX-512', 'AVX-512-BF16'][this.isa]!;
    this.device = {
      id: 'cpu',
      description: `cpu (${info.cpu || 'unknown CPU'}, ${this.isaName}${bf16 && info.amxBf16 ? ' + AMX-BF16' : ''}, ${this.threads} threads)`,
      memoryTotalBytes: os.totalmem(),
      memoryFreeBytes: os.freemem(),
    };
    this.capabilities = {
      dtypes: new Set(['f32', 'f64', 'bf16', 'f16', 'f8_e4m3', 'i32', 'i64', 'i16', 'i8', 'u8']),
      linearWeightDtypes: new Set(['f32', 'bf16', 'f16', 'f8_e4m3', 'i8']),
      graphCapture: execution === 'queued',
      asyncCopy: execution === 'queued',
      fused: new Set(CPU_FUSED_KERNELS),
      // The bf16 precision's mlaAttention packs each latent row as bf16 (round to nearest even) before its
      // vdpbf16ps products: a bf16 cache, rounded the same way when written, gives the same bits.
      ...(bf16 ? { exactLatentCache: 'bf16' as const } : {}),
    };
    this.kernels = this.createKernels();
    this.fused = this.createFused();
    this.kernelProfile = execution === 'queued' ? this.createKernelProfile() : null;
  }

  private createKernelProfile(): KernelProfile {
    return {
      reset: () => {
        if (this.queue >= 0) this.addon.resetKernelTimes(this.queue);
      },
      read: (): readonly KernelTime[] => {
        if (this.queue < 0) return [];
        return this.addon
          .kernelTimes(this.queue)
          .map(({ name, calls, ms }) => ({ name, count: calls, ms }))
          .sort((a, b) => b.ms - a.ms);
      },
    };
  }

  /**
   * A STREAM-like read probe: sums a freshly allocated buffer of `bytes` bytes (default 1 GiB, larger
   * than any last-level cache) with this backend's threads; returns the best of 3 passes in GB/s.
   */
  memoryReadBandwidth(bytes: number = 2 ** 30): number {
    if (!Number.isInteger(bytes) || bytes < 1) {
      throw new KernelArgumentError('memoryReadBandwidth', `bytes must be a positive integer, got ${bytes}`);
    }
    return this.addon.memoryReadBandwidth(bytes, this.threads);
  }

  /**
   * The f32 FMA rate this backend's kernel set reaches on its threads, measured (independent chains of its widest
   * FMA, best of 3 passes, ~0.1 s): on a VM /proc/cpuinfo shows the nominal clock, and Zen 4 issues one 512-bit FMA
   * per cycle, so a cores × GHz × lanes × 2 × units formula can be 40% off. In the bf16 precision, the
   * `vdpbf16ps` rate instead (two multiply-adds per lane), the instruction its matrix kernels then use.
   */
  fmaPeak(): number {
    return this.addon.fmaPeak(this.isa, this.threads);
  }

  allocate(byteLength: number, usage: BufferUsage): CpuBuffer {
    if (!Number.isInteger(byteLength) || byteLength < 0) {
      throw new KernelArgumentError('allocate', `byte length ${byteLength} is not a non-negative integer`);
    }
    const buffer = new CpuBuffer(this.addon, byteLength, usage, (b) => this.buffers.delete(b));
    this.buffers.add(buffer);
    return buffer;
  }

  upload(destination: TensorView, source: ArrayBufferView): void {
    const buffer = this.hostTransferBuffer('upload', destination);
    this.notCapturing('upload', 'upload before capture: a replay reads the tensors it was captured with');
    const bytes = viewByteLength(destination);
    if (source.byteLength !== bytes) {
      throw new KernelArgumentError(
        'upload',
        `source has ${source.byteLength} bytes, destination ${destination.dtype}${formatShape(destination.shape)} needs ${bytes}`,
      );
    }
    this.native('upload', () =>
      this.addon.upload(
        this.queue,
        buffer.id,
        destination.byteOffset,
        new Uint8Array(source.buffer, source.byteOffset, source.byteLength),
      ),
    );
  }

  async download(source: TensorView, destination: ArrayBufferView): Promise<void> {
    const buffer = this.hostTransferBuffer('download', source);
    this.notCapturing('download', 'download after the replay');
    const bytes = viewByteLength(source);
    if (destination.byteLength !== bytes) {
      throw new KernelArgumentError(
        'download',
        `destination has ${destination.byteLength} bytes, source needs ${bytes}`,
      );
    }
    const wait = this.native('download', () =>
      this.addon.download(
        this.queue,
        buffer.id,
        source.byteOffset,
        new Uint8Array(destination.buffer, destination.byteOffset, bytes),
        this.threads,
      ),
    );
    if (wait !== undefined) await settle('download', wait);
  }

  copy(destination: TensorView, source: TensorView): void {
    if (destination.dtype !== source.dtype || !sameShape(destination.shape, source.shape)) {
      throw new KernelArgumentError(
        'copy',
        `destination ${destination.dtype}${formatShape(destination.shape)} and source ${source.dtype}${formatShape(source.shape)} differ`,
      );
    }
    this.call('copy', this.addon.copy, (a) => a.tensor(destination, 'destination').tensor(source, 'source'));
  }

  createStream(): Stream {
    return { id: this.nextStream++ };
  }

  async synchronize(): Promise<void> {
    this.notCapturing('synchronize', 'synchronize after the replay');
    const wait = this.native('synchronize', () => this.addon.synchronize(this.queue));
    if (wait !== undefined) await settle('synchronize', wait);
  }

  /**
   * Records the kernels `record` calls into a native program instead of running them (queued execution
   * only) and returns it as a graph: `replay()` enqueues the whole sequence with one call, run on the
   * executor with the thread pool held hot, each kernel with the arguments resolved at capture. Kernels
   * read their tensors when they run, so inputs uploaded between replays (a decode step's token ids,
   * positions, block table) are seen: `mlaAttention` and `indexerTopk` always read the batch's device
   * tensors (its host copies are only checked at the call). `upload`, `download` and `synchronize`
   * throw inside `record`. The
   * stream is ignored (one queue). Results equal the same calls run eagerly, bit for bit.
   */
  captureGraph(_stream: Stream, record: () => void): CapturedGraph {
    if (this.queue < 0) {
      throw new KernelArgumentError(
        'captureGraph',
        this.queue === DISPOSED_QUEUE
          ? 'the cpu backend was disposed'
          : 'graphs need queued execution (settings.execution is synchronous)',
      );
    }
    if (this.capturing) throw new KernelArgumentError('captureGraph', 'a capture is already in progress');
    this.native('captureGraph', () => this.addon.beginCapture(this.queue));
    this.capturing = true;
    try {
      record();
    } catch (error) {
      this.capturing = false;
      this.addon.freeProgram(this.addon.endCapture(this.queue));
      throw error;
    }
    this.capturing = false;
    const program = this.addon.endCapture(this.queue);
    const graph = new CpuGraph(
      this.addon,
      () => this.queue,
      program,
      (g) => this.graphs.delete(g),
    );
    this.graphs.add(graph);
    return graph;
  }

  /** Whether every call made so far has finished running (always true in synchronous mode). */
  get idle(): boolean {
    return this.queue < 0 || this.addon.queueIdle(this.queue);
  }

  /**
   * Frees every buffer and closes the queue. Work already queued still runs (the memory it uses is
   * freed after it) and pending `download` / `synchronize` promises still settle; later calls throw.
   */
  dispose(): void {
    for (const graph of [...this.graphs]) graph.dispose();
    for (const buffer of [...this.buffers]) buffer.dispose();
    this.buffers.clear();
    if (this.queue >= 0) {
      queueFinalizer.unregister(this);
      this.addon.closeQueue(this.queue);
    }
    this.queue = DISPOSED_QUEUE;
  }

  /** Runs `write` to fill the argument block, then the native kernel; native errors become KernelArgumentError. */
  private call(
    kernel: string,
    fn: NativeKernel,
    write: (args: ArgumentBlock) => void,
    ...host: Int32Array[]
  ): void {
    const args = this.args.begin(kernel, this.queue, this.threads, this.isa);
    write(args);
    this.native(kernel, () => fn(args.block, ...host));
  }

  private native<T>(kernel: string, run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof KernelArgumentError) throw error;
      throw new KernelArgumentError(kernel, (error as Error).message);
    }
  }

  /** Throws while a graph is being captured: `kernel` moves data to or from the host now. */
  private notCapturing(kernel: string, advice: string): void {
    if (this.capturing) {
      throw new KernelArgumentError(kernel, `cannot ${kernel} while a graph is being captured; ${advice}`);
    }
  }

  private hostTransferBuffer(kernel: string, view: TensorView): CpuBuffer {
    const buffer = backendBuffer(kernel, view, CpuBuffer, 'cpu');
    if (!isContiguous(view)) {
      throw new KernelArgumentError(
        kernel,
        `${kernel === 'upload' ? 'destination' : 'source'} view must be contiguous`,
      );
    }
    return buffer;
  }

  private createKernels(): Kernels {
    const addon = this.addon;
    return {
      fill: (out, value) => this.call('fill', addon.fill, (a) => a.tensor(out, 'out').number(value)),
      cast: (out, x) => this.call('cast', addon.cast, (a) => a.tensor(out, 'out').tensor(x, 'x')),
      gatherRows: (out, table, indices) =>
        this.call('gatherRows', addon.gatherRows, (a) =>
          a.tensor(out, 'out').tensor(table, 'table').tensor(indices, 'indices'),
        ),
      scatterRows: (table, rows, indices) =>
        this.call('scatterRows', addon.scatterRows, (a) =>
          a.tensor(table, 'table').tensor(rows, 'rows').tensor(indices, 'indices'),
        ),
      indexAdd: (out, rows, indices, weights) =>
        this.call('indexAdd', addon.indexAdd, (a) =>
          a.tensor(out, 'out').tensor(rows, 'rows').tensor(indices, 'indices').tensor(weights, 'weights'),
        ),
      linear: (out, x, weight: LinearWeight) => {
        const [blockN, blockK] = weight.blockSize ?? [128, 128];
        this.call('linear', addon.linear, (a) =>
          a
            .tensor(out, 'out')
            .tensor(x, 'x')
            .tensor(weight.weight, 'weight')
            .tensor(weight.scaleInv, 'scaleInv')
            .number(blockN)
            .number(blockK),
        );
      },
      matmul: (out, a, b, options = {}) =>
        this.call('matmul', addon.matmul, (args) =>
          args
            .tensor(out, 'out')
            .tensor(a, 'a')
            .tensor(b, 'b')
            .number(options.transposeB ? 1 : 0)
            .number(options.alpha ?? 1),
        ),
      rmsNorm: (out, x, weight, eps) =>
        this.call('rmsNorm', addon.rmsNorm, (a) =>
          a.tensor(out, 'out').tensor(x, 'x').tensor(weight, 'weight').number(eps),
        ),
      layerNorm: (out, x, weight, bias, eps) =>
        this.call('layerNorm', addon.layerNorm, (a) =>
          a.tensor(out, 'out').tensor(x, 'x').tensor(weight, 'weight').tensor(bias, 'bias').number(eps),
        ),
      rope: (x, positions, invFreq, options: { layout: RopeLayout; scale?: number }) => {
        if (options.layout !== 'interleaved' && options.layout !== 'half') {
          throw new KernelArgumentError('rope', `unknown layout "${options.layout}"`);
        }
        this.call('rope', addon.rope, (a) =>
          a
            .tensor(x, 'x')
            .tensor(positions, 'positions')
            .tensor(invFreq, 'invFreq')
            .number(options.layout === 'interleaved' ? 1 : 0)
            .number(options.scale ?? 1),
        );
      },
      softmax: (x, options = {}) =>
        this.call('softmax', addon.softmax, (a) => a.tensor(x, 'x').number(options.scale ?? 1)),
      topk: (indices, values, x, k) => {
        if (!Number.isInteger(k) || k < 1)
          throw new KernelArgumentError('topk', `k = ${k} must be a positive integer`);
        this.call('topk', addon.topK, (a) =>
          a.tensor(indices, 'indices').tensor(values, 'values').tensor(x, 'x').number(k),
        );
      },
      reduceSum: (out, x) =>
        this.call('reduceSum', addon.reduceSum, (a) => a.tensor(out, 'out').tensor(x, 'x')),
      gatherColumns: (out, x, indices, fill = 0) =>
        this.call('gatherColumns', addon.gatherColumns, (a) =>
          a.tensor(out, 'out').tensor(x, 'x').tensor(indices, 'indices').number(fill),
        ),
      scatterColumns: (out, indices, values) =>
        this.call('scatterColumns', addon.scatterColumns, (a) =>
          typeof values === 'number'
            ? a.tensor(out, 'out').tensor(indices, 'indices').tensor(null, 'values').number(values)
            : a.tensor(out, 'out').tensor(indices, 'indices').tensor(values, 'values').number(0),
        ),
      unary: (out, x, op) => {
        const code = unaryOpCode(op);
        this.call('unary', addon.unary, (a) => a.tensor(out, 'out').tensor(x, 'x').number(code));
      },
      binary: (out, a, b, op) => {
        const code = binaryOpCode(op);
        this.call('binary', addon.binary, (args) =>
          args.tensor(out, 'out').tensor(a, 'a').tensor(b, 'b').number(code),
        );
      },
      hadamard: (out, x) => this.call('hadamard', addon.hadamard, (a) => a.tensor(out, 'out').tensor(x, 'x')),
      quantizeFp8: (q, scale, x, options) =>
        this.call('quantizeFp8', addon.quantizeFp8, (a) =>
          a
            .tensor(q, 'q')
            .tensor(scale, 'scale')
            .tensor(x, 'x')
            .number(options.blockSize)
            .number(options.scaleFormat === 'ue8m0' ? 1 : 0),
        ),
      dequantizeFp8: (out, q, scale, options) =>
        this.call('dequantizeFp8', addon.dequantizeFp8, (a) =>
          a.tensor(out, 'out').tensor(q, 'q').tensor(scale, 'scale').number(options.blockSize),
        ),
      sample: (out, logits, rows: readonly SamplingRow[], outputs: SamplingOutputs = {}) =>
        this.call('sample', addon.sample, (a) => {
          a.tensor(out, 'out').tensor(logits, 'logits').number(rows.length);
          for (const row of rows) {
            a.number(row.temperature)
              .number(row.topK ?? 0)
              .number(row.topP ?? 1)
              .number(row.minP ?? 0)
              .number((row.seed ?? 0) >>> 0)
              .number((row.step ?? 0) >>> 0)
              .number(row.repetitionPenalty ?? 1)
              .number(row.frequencyPenalty ?? 0)
              .number(row.presencePenalty ?? 0)
              .number(row.logitBias?.length ?? 0);
            for (const [id, bias] of row.logitBias ?? []) a.number(id).number(bias);
            a.tensor(row.history?.tokens, 'history.tokens')
              .number(row.history?.length ?? 0)
              .number(row.history?.promptLength ?? 0);
          }
          a.tensor(outputs.logprobs, 'logprobs')
            .tensor(outputs.topIds, 'topIds')
            .tensor(outputs.topLogprobs, 'topLogprobs');
        }),
    };
  }

  private createFused(): Partial<FusedKernels> {
    const addon = this.addon;
    // The batch ends the block (width, block size, device tensors: what the kernel reads when it runs);
    // its host copies follow as call arguments, checked at the call (coverage, as slotOf would fail).
    const writeBatch = (a: ArgumentBlock, batch: AttentionBatch) =>
      a
        .number(batch.host.maxBlocks)
        .number(batch.blockSize)
        .tensor(batch.positions, 'positions')
        .tensor(batch.sequenceIds, 'sequenceIds')
        .tensor(batch.blockTable, 'blockTable');
    const host = (batch: AttentionBatch) => [
      batch.host.positions,
      batch.host.sequenceIds,
      batch.host.blockTable,
    ];
    return {
      addRmsNorm: (out, residual, x, weight, eps) =>
        this.call('addRmsNorm', addon.addRmsNorm, (a) =>
          a
            .tensor(out, 'out')
            .tensor(residual, 'residual')
            .tensor(x, 'x')
            .tensor(weight, 'weight')
            .number(eps),
        ),
      swiglu: (out, gate, up) =>
        this.call('swiglu', addon.swiglu, (a) => a.tensor(out, 'out').tensor(gate, 'gate').tensor(up, 'up')),
      // An fp8 cache goes as its three views (nope, scales, rope); the kernel reads the rows as stored.
      mlaAttention: (out, q, latentCache, batch, indices, scale) =>
        this.call(
          'mlaAttention',
          addon.mlaAttention,
          (a) =>
            writeBatch(
              (isFp8LatentCache(latentCache)
                ? a
                    .tensor(out, 'out')
                    .tensor(q, 'q')
                    .tensor(latentCache.nope, 'latentCache.nope')
                    .tensor(latentCache.scales, 'latentCache.scales')
                    .tensor(latentCache.rope, 'latentCache.rope')
                : a
                    .tensor(out, 'out')
                    .tensor(q, 'q')
                    .tensor(latentCache, 'latentCache')
                    .tensor(null, 'latentCache.scales')
                    .tensor(null, 'latentCache.rope')
              )
                .tensor(indices, 'indices')
                .number(scale),
              batch,
            ),
          ...host(batch),
        ),
      indexerTopk: (indices, q, weights, keys: IndexerKeyCache, batch, k) => {
        if (!Number.isInteger(k) || k < 1) {
          throw new KernelArgumentError('indexerTopk', `k = ${k} must be a positive integer`);
        }
        this.call(
          'indexerTopk',
          addon.indexerTopK,
          (a) =>
            writeBatch(
              a
                .tensor(indices, 'indices')
                .tensor(q, 'q')
                .tensor(weights, 'weights')
                .tensor(keys.keys, 'keys')
                .tensor(keys.scales, 'scales')
                .number(k),
              batch,
            ),
          ...host(batch),
        );
      },
      moeRoute: (indices, weights, logits, bias, options: MoeRouteOptions) =>
        this.call('moeRoute', addon.moeRoute, (a) =>
          a
            .tensor(indices, 'indices')
            .tensor(weights, 'weights')
            .tensor(logits, 'logits')
            .tensor(bias, 'bias')
            .number(options.nGroup)
            .number(options.topkGroup)
            .number(options.topk)
            .number(options.routedScalingFactor)
            .number(options.normalize ? 1 : 0)
            .number(options.scoring === 'softmax' ? 1 : 0),
        ),
      linears: (outs: readonly TensorView[], x, weights: readonly LinearWeight[]) => {
        expectLinearsArity(outs, weights);
        this.call('linears', addon.linears, (a) => {
          a.tensor(x, 'x').number(weights.length);
          for (let i = 0; i < weights.length; i++) {
            const names = linearsTensorNames(i);
            a.tensor(outs[i]!, names[0]!);
            writeLinear(a, weights[i]!, names[1]!, names[2]!);
          }
        });
      },
      moeExperts: (out, x, indices, weights, experts: readonly ExpertWeights[]) =>
        this.call('moeExperts', addon.moeExperts, (a) => {
          a.tensor(out, 'out')
            .tensor(x, 'x')
            .tensor(indices, 'indices')
            .tensor(weights, 'weights')
            .number(experts.length);
          for (let e = 0; e < experts.length; e++) {
            const expert = experts[e]!;
            const names = expertTensorNames(e);
            writeLinear(a, expert.gate, names[0]!, names[1]!);
            writeLinear(a, expert.up, names[2]!, names[3]!);
            writeLinear(a, expert.down, names[4]!, names[5]!);
          }
        }),
    };
  }
}
