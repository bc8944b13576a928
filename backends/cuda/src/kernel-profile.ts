import type { KernelProfile as BackendKernelProfile, KernelTime } from '@dsa/backend';
import type { CudaDriver } from './cuda-driver.js';
import { out64 } from './cuda-driver.js';

/** Pending event pairs after which the profile drains itself (bounds the events held). */
const DRAIN_AT = 2048;

/**
 * Per-kernel GPU time from CUDA events (setting `profile`, DSA_CUDA_PROFILE=1): a timing event is recorded on the stream
 * before and after every kernel launch, cuBLASLt GEMM and graph replay made outside a capture; the
 * pairs are resolved with cuEventElapsedTime when {@link KernelProfile.read} (or the pool's bound)
 * drains them. Back-to-back events on one stream time each launch with its queueing gap removed only
 * when the GPU is ahead of the host (see {@link KernelProfile.leadNs}); with graphs on, the `graph` entry
 * is the GPU time of whole decode steps (the denominator of host overhead).
 */
export class KernelProfile implements BackendKernelProfile {
  /**
   * Nanoseconds of GPU spin enqueued before the first launch after each host wait
   * (setting `profileLeadMs`, DSA_CUDA_PROFILE_LEAD_MS; 0 = none). With a lead longer than the host needs to enqueue a step,
   * kernels queue back to back and each event pair times its kernel alone: accurate eager tables,
   * at the price of step times that include the lead.
   */
  readonly leadNs: bigint;
  /** Set after a host wait; the launcher then enqueues the lead before its next launch. */
  idle = true;
  private readonly driver: CudaDriver;
  private readonly elapsed: string;
  private readonly free: bigint[] = [];
  private pending: { name: string; start: bigint; end: bigint }[] = [];
  private readonly totals = new Map<string, { count: number; ms: number }>();
  private readonly ms = new Float32Array(1);

  /** `leadMs`: the GPU spin after each host wait, in milliseconds (0 = none). */
  constructor(driver: CudaDriver, leadMs = 0) {
    this.driver = driver;
    this.elapsed = driver.has('cuEventElapsedTime_v2') ? 'cuEventElapsedTime_v2' : 'cuEventElapsedTime';
    this.leadNs = Number.isFinite(leadMs) && leadMs > 0 ? BigInt(Math.round(leadMs * 1e6)) : 0n;
  }

  /** Enqueues `run` (which launches on `stream`) between two timing events attributed to `name`. */
  time(name: string, stream: bigint, run: () => void): void {
    const start = this.event();
    const end = this.event();
    this.driver.call('cuEventRecord', start, stream);
    try {
      run();
    } finally {
      this.driver.call('cuEventRecord', end, stream);
      this.pending.push({ name, start, end });
    }
    if (this.pending.length >= DRAIN_AT) this.drain();
  }

  /** Drops what was timed so far (pending pairs are resolved first, then forgotten). */
  reset(): void {
    this.drain();
    this.totals.clear();
  }

  /** Times per name since the last reset, slowest first; waits for the pending events. */
  read(): KernelTime[] {
    this.drain();
    return [...this.totals.entries()]
      .map(([name, t]) => ({ name, count: t.count, ms: t.ms }))
      .sort((a, b) => b.ms - a.ms);
  }

  /** Destroys the events. */
  dispose(): void {
    this.drain();
    for (const e of this.free) this.driver.raw('cuEventDestroy_v2', e);
    this.free.length = 0;
  }

  private drain(): void {
    const pairs = this.pending;
    if (pairs.length === 0) return;
    this.pending = [];
    this.driver.call('cuEventSynchronize', pairs[pairs.length - 1]!.end);
    this.idle = true;
    for (const p of pairs) {
      this.driver.call(this.elapsed, this.ms, p.start, p.end);
      const total = this.totals.get(p.name) ?? { count: 0, ms: 0 };
      total.count++;
      total.ms += this.ms[0]!;
      this.totals.set(p.name, total);
      this.free.push(p.start, p.end);
    }
  }

  private event(): bigint {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const event = out64();
    this.driver.call('cuEventCreate', event, 0);
    return event[0]!;
  }
}
