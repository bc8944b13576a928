import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Backend, createBackend, type SamplingRow } from '@dsa/backend';
import {
  type CacheSequence,
  DeepseekModel,
  type ForwardEntry,
  fillSyntheticCache,
  type LatentCacheFormat,
  makeModel,
  type PresetName,
  presetConfig,
  summarizeModel,
} from '@dsa/runtime';
import { forwardFlops } from '../bench/flops.js';
import { lastLevelCacheBytes, type RooflineBasis, rooflineBasis } from '../bench/llc.js';
import {
  decodeTraffic,
  jsReadBandwidth,
  rowBytes,
  stats,
  type WeightBytes,
  weightBytesOf,
} from '../bench/metrics.js';
import { backendPeakFlops } from '../bench/peak-flops.js';
import { PeakRss } from '../bench/peak-rss.js';
import { PROBE_BYTES, turnProbeBytes, turnRoofline } from '../bench/probes.js';
import { weightsLabel } from '../bench/weights-label.js';
import { cliSetting } from '../cli-settings.js';
import { benchPlot, checkPlotFile, writePlot } from '../plot/index.js';
import { UsageError } from '../usage-error.js';

/** Flags of `dsa bench` (lists already parsed). */
export interface BenchFlags {
  readonly model?: string;
  readonly preset?: PresetName;
  readonly dtype: 'bf16' | 'fp8';
  readonly backend?: string;
  readonly depth: readonly number[];
  readonly batch: readonly number[];
  readonly attention: readonly ('sparse' | 'dense')[];
  /** Indexer key cache and scores: `fp32` or `fp8` (e4m3 keys + per-token scale); default fp32. */
  readonly indexer?: readonly ('fp32' | 'fp8')[];
  readonly cache: 'synthetic' | 'prefill';
  /**
   * Decode through captured graphs (`on`) and/or eagerly (`off`); with both, one model each, their
   * timed steps interleaved. Absent: the runtime's default (graphs where the backend captures them).
   */
  readonly graphs?: readonly ('on' | 'off')[];
  /** Layers of the `--preset` checkpoint (default: the preset's). */
  readonly layers?: number;
  /** How the MLA latent cache stores rows: f32, bf16 or fp8 (DeepSeek's 656-byte layout); default: the runtime's. */
  readonly latentCache?: LatentCacheFormat;
  /** Workspace bytes one step may use (`--step-memory`): the pp forward and the fill run in chunks that fit. */
  readonly stepMemory?: number;
  /**
   * Last-level cache bytes of the cores the bench runs on (`--llc`), for hosts whose sysfs hides the cache
   * topology (some VMs); replaces the sysfs reading.
   */
  readonly llc?: number;
  readonly prompt: number;
  readonly repeat: number;
  /**
   * Time every depth and batch together (`--interleave`): each (depth, batch) pair is filled and warmed up
   * first, then they take turns of a few timed decode steps, each turn after one untimed step (the order
   * flipped every turn), so that a shared machine's slow phases fall on every pair alike and the ratios between
   * batches (batch 8 against 1) and depths (32K against 2K) hold. The cache then holds every pair's sequences
   * at once.
   */
  readonly interleave?: boolean;
  /**
   * When the bandwidth probe runs (`--probe`): `end` (default), once after every measurement (1 GiB), its figure
   * the denominator of every line; `turns`, a probe of max(4 × the last-level cache, 256 MiB) before every turn
   * of timed steps (the turns of --interleave, also without it) and after the last, each turn's steps divided by
   * the mean of the probes either side of it: on a machine whose memory bandwidth swings within minutes (a
   * shared VM), the fraction then compares steps and probe in the same phase. Needs a backend with its own probe.
   */
  readonly probe?: 'end' | 'turns';
  readonly json?: boolean;
  /** Also write decode ms/step and prefill tokens/s against depth to this SVG file. */
  readonly plot?: string;
}

/** Timed steps of one batch per turn under `--interleave` (each turn after one untimed step). */
const INTERLEAVE_STEPS = 4;

/** One measurement: the JSON line `dsa bench --json` prints. */
export interface BenchResult {
  backend: string;
  device: string;
  preset: string;
  /** The layer weights' dtype as uploaded, in checkpoint terms: bf16, fp8, q8_0 (a GGUF Q8_0 import), f32, f16. */
  dtype: string;
  params_total: number;
  params_active: number;
  batch: number;
  depth: number;
  attention: 'sparse' | 'dense';
  /** Indexer precision (`fp32` or `fp8`; reported for dense runs too: it sizes the cache). */
  indexer: 'fp32' | 'fp8';
  /** How the MLA latent cache stores rows: `f32`, `bf16` or `fp8` (DeepSeek's 656-byte layout). */
  latent_cache: LatentCacheFormat;
  /** Bytes of one token's latent row per layer (C + R values in `latent_cache`; 656 for fp8 at 512 + 64). */
  latent_row_bytes: number;
  cache: 'synthetic' | 'prefill';
  /** Whether decode steps replayed captured graphs (false: every step ran eagerly). */
  graphs: boolean;
  pp_tok_s: number;
  /** Prefill GFLOP/s: {@link forwardFlops} of the pp forward over its time. */
  pp_gflops: number;
  /** Peak f32 GFLOP/s of the cores and kernel set in use, measured by the backend where it can ({@link backendPeakFlops}); null when unknown. */
  peak_gflops: number | null;
  tg_tok_s: number;
  tg_ms_median: number;
  tg_ms_min: number;
  tg_ms_max: number;
  /** Decode GFLOP/s: {@link forwardFlops} of one token at `depth` times tg_tok_s (all `batch` tokens of a step). */
  tg_gflops: number;
  /**
   * tg_gflops / peak_gflops: the decode step against the compute roofline (null without a peak). Where a
   * batch makes the step compute-bound this, not roofline_fraction, says how close it runs to the cores' limit.
   */
  compute_fraction: number | null;
  bytes_per_token: number;
  /** Where the bandwidth figures come from: one probe after every measurement (`end`) or probes between turns (`turns`). */
  probe: 'end' | 'turns';
  /** The probe's read bandwidth; with `probe: turns` the median of the turns' (each the mean of the probes either side). */
  bandwidth_gbs: number;
  /** The lowest of the probes that went into bandwidth_gbs (the same figure with `probe: end`). */
  bandwidth_gbs_min: number;
  /** The highest of the probes that went into bandwidth_gbs (the same figure with `probe: end`). */
  bandwidth_gbs_max: number;
  /**
   * bytes_per_token · tg_tok_s / bandwidth_gbs; with `probe: turns` the median over the turns of each turn's
   * median step against its own probes.
   */
  roofline_fraction: number;
  /**
   * Last-level cache bytes of the cores the process may run on (Linux sysfs, distinct instances
   * summed); null for GPU backends and where sysfs does not say.
   */
  llc_bytes: number | null;
  /**
   * What roofline_fraction measures ({@link rooflineBasis}): `dram` when a step's bytes (bytes_per_token × batch) ≥ 4 × llc_bytes,
   * `cache` below (the caches hold much of a step: not a memory roofline); null when llc_bytes is.
   */
  roofline_basis: RooflineBasis | null;
  /** Checkpoint weight bytes as loaded (checkpoint dtypes). */
  weights_bytes: number;
  /** Bytes of the allocated KV-cache pool: latent + indexer keys (+ scales) of every layer. */
  cache_bytes: number;
  /**
   * The process's peak resident set right after this measurement, without the bandwidth probes' buffers
   * ({@link PeakRss}: the end probe runs last; on Linux the turns' probes are left out by resetting the
   * high-water mark after each). A high-water mark: it covers every earlier measurement of the same run, so run
   * one configuration per process to check a budget.
   */
  peak_rss_bytes: number;
  /** With `--cache prefill`: tokens/s of filling `depth` tokens per sequence in chunks (all sequences); else null. */
  fill_tok_s: number | null;
  /**
   * Kernel milliseconds per decode step from the backend's kernel profile: on cuda (DSA_CUDA_PROFILE=1)
   * the summed event times of its launches and graph replays, on cpu the executor's wall time inside
   * kernel bodies (the name is historical); null without a profile (reference, synchronous cpu).
   */
  tg_gpu_ms: number | null;
  /**
   * 1 − tg_gpu_ms / (mean step time over the same timed steps): the share of a step spent outside kernel
   * bodies (dispatch, argument packing, queue hand-offs; host overhead); null without a profile.
   */
  host_fraction: number | null;
}

/** Tokens per prefill forward with `--cache prefill` (fewer under `--step-memory`). */
const PREFILL_CHUNK = 512;

/** The preset's checkpoint in os.tmpdir(), generated on first use. */
async function presetDir(
  preset: PresetName,
  dtype: 'bf16' | 'fp8',
  layers: number | undefined,
  log: (line: string) => void,
): Promise<string> {
  const dir = path.join(os.tmpdir(), `dsa-bench-${preset}-${dtype}${layers ? `-${layers}l` : ''}`);
  if (fs.existsSync(path.join(dir, 'config.json'))) return dir;
  log(`generating the ${preset} preset (${dtype}) into ${dir}`);
  const staging = fs.mkdtempSync(`${dir}.tmp-`);
  try {
    await makeModel(staging, presetConfig(preset, layers), { dtype, seed: 1 });
    try {
      fs.renameSync(staging, dir);
    } catch (error) {
      // Another bench run got there first.
      if (!fs.existsSync(path.join(dir, 'config.json'))) throw error;
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return dir;
}

/** Read bandwidth in GB/s: the backend's own probe when it has one, else a single-thread JS probe. */
function probeBandwidth(backend: Backend): { gbs: number; native: boolean } {
  if (backend.memoryReadBandwidth) return { gbs: backend.memoryReadBandwidth(PROBE_BYTES), native: true };
  return { gbs: jsReadBandwidth(PROBE_BYTES), native: false };
}

function tokensFor(count: number, vocab: number, salt: number): number[] {
  return Array.from({ length: count }, (_, i) => (salt * 7919 + i * 104729 + 3) % vocab);
}

/**
 * One step as the engine runs it for requests without sampling settings: the forward, then the greedy pick on
 * the device (the sampler's `sample` kernel), and only the token ids downloaded. (Downloading every logit, which
 * the engine never does, would add 4 MB a step for `small` at batch 32.)
 */
async function step(model: DeepseekModel, entries: readonly ForwardEntry[]): Promise<void> {
  const result = await model.forward(entries);
  await model.sampler.sample(
    result.logits,
    entries.map(() => GREEDY),
    null,
  );
}

/** The engine's sampling for a request that sets none (temperature 0). */
const GREEDY: SamplingRow = { temperature: 0 };

/**
 * Prefills `prompts` (one per sequence, of equal length) in steps of at most `chunk` tokens per
 * sequence, fewer where the model's step memory budget says so.
 */
async function prefill(
  model: DeepseekModel,
  sequences: readonly CacheSequence[],
  prompts: readonly (readonly number[])[],
  chunk: number,
): Promise<void> {
  const length = prompts[0]?.length ?? 0;
  for (let start = 0; start < length; ) {
    const n = Math.max(1, Math.floor(model.stepRows(sequences.length * chunk) / sequences.length));
    const end = Math.min(length, start + n);
    await step(
      model,
      sequences.map((sequence, s) => ({ sequence, tokens: prompts[s]!.slice(start, end) })),
    );
    start = end;
  }
}

/** A model under test: the checkpoint loaded once per graphs setting (decode graphs on or off). */
interface Variant {
  readonly model: DeepseekModel;
  /** Whether its decode steps go through captured graphs (model.graphStats is not null). */
  readonly graphs: boolean;
}

/** Per-step kernel times of one variant, summed by kernel name over the timed steps. */
class KernelTotals {
  readonly byName = new Map<string, { count: number; ms: number }>();
  add(times: readonly { name: string; count: number; ms: number }[]): void {
    for (const t of times) {
      const entry = this.byName.get(t.name) ?? { count: 0, ms: 0 };
      entry.count += t.count;
      entry.ms += t.ms;
      this.byName.set(t.name, entry);
    }
  }
  get ms(): number {
    let total = 0;
    for (const entry of this.byName.values()) total += entry.ms;
    return total;
  }
  /** The per-kernel table: µs and launches per step, most time first. */
  table(steps: number): string {
    return [...this.byName.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 40)
      .map(
        ([name, k]) =>
          `  ${((k.ms * 1000) / steps).toFixed(1).padStart(9)}  ${String(k.count / steps).padStart(6)}×  ${name}`,
      )
      .join('\n');
  }
}

/**
 * Runs every (depth, batch) measurement on the loaded variants of one checkpoint (same backend, same
 * cache geometry). With several variants, each is prefilled and warmed up, then their timed decode
 * steps alternate (the order flipped every round), so a shared machine's load falls on all alike.
 */
async function measure(
  variants: readonly Variant[],
  flags: BenchFlags,
  base: Pick<
    BenchResult,
    | 'backend'
    | 'device'
    | 'preset'
    | 'dtype'
    | 'indexer'
    | 'latent_cache'
    | 'latent_row_bytes'
    | 'peak_gflops'
    | 'llc_bytes'
  >,
  weightBytes: WeightBytes,
  rss: PeakRss,
  emit: (result: BenchResult) => void,
): Promise<void> {
  const { config, cache: firstCache, attention, backend } = variants[0]!.model;
  const vocab = config.vocabSize;
  const summary = summarizeModel(config);
  const latentRowBytes = firstCache.latentRowBytes;
  const ix = firstCache.indexerKeys[0];
  const indexerRowBytes = ix ? rowBytes(ix.keys) + (ix.scales ? rowBytes(ix.scales) : 0) : 0;
  const cacheBytes = firstCache.byteLength;
  const ppFlops = forwardFlops({ config, summary, attention, start: 0, tokens: flags.prompt });
  // Warm-up (not timed): first-use allocations of the workspace and the kernels.
  for (const { model } of variants) {
    const warm = model.cache.createSequence();
    await prefill(model, [warm], [tokensFor(flags.prompt, vocab, 0)], flags.prompt);
    model.cache.release(warm);
    // The arena grows to the warm-up's high-water mark at the next reset: do it here, or the first timed pp
    // pays for it (allocating and zeroing ~1 GB at --prompt 2048 on small: 0.45 s of a 1.2 s forward).
    model.workspace.reset();
  }
  const profile = backend.kernelProfile ?? null;
  // --probe turns: a probe before every turn and after the last (the buffer left out of peak_rss_bytes).
  const probeTurns = flags.probe === 'turns';
  const turnBytes = turnProbeBytes(base.llc_bytes);
  const probeNow = (): number => {
    rss.beforeProbe();
    const gbs = backend.memoryReadBandwidth!(turnBytes);
    rss.afterProbe();
    return gbs;
  };
  // The (depth, batch) pairs timed together: all of them with --interleave, else one at a time.
  const pairs = flags.depth.flatMap((depth) => flags.batch.map((batch) => ({ depth, batch })));
  for (const group of flags.interleave ? [pairs] : pairs.map((pair) => [pair])) {
    const runs = group.flatMap(({ depth, batch }) =>
      variants.map((variant) => ({
        depth,
        batch,
        variant,
        model: variant.model,
        sequences: [] as CacheSequence[],
        ppSeconds: 0,
        fillTokS: null as number | null,
        times: [] as number[],
        turns: [] as { from: number; to: number }[],
        kernels: new KernelTotals(),
      })),
    );
    const probes: number[] = [];
    try {
      const decode = (run: (typeof runs)[number], t: number) =>
        step(
          run.model,
          run.sequences.map((sequence, s) => ({ sequence, tokens: [(t * 31 + s * 17 + 5) % vocab] })),
        );
      for (const run of runs) {
        const { model, batch, depth } = run;
        const cache = model.cache;
        // pp: one forward of --prompt tokens for a fresh sequence (in chunks under --step-memory).
        const fresh = cache.createSequence();
        profile?.reset();
        const ppStarted = performance.now();
        await prefill(model, [fresh], [tokensFor(flags.prompt, vocab, 1)], flags.prompt);
        run.ppSeconds = (performance.now() - ppStarted) / 1000;
        if (profile && backend.name === 'cpu' && cliSetting('benchKernels')) {
          const pp = new KernelTotals();
          pp.add(profile.read());
          process.stderr.write(`kernel profile, prefill of ${flags.prompt} tokens (µs):\n${pp.table(1)}\n`);
        }
        cache.release(fresh);

        // tg: `batch` sequences at `depth` tokens, then `repeat` timed decode steps.
        run.sequences = Array.from({ length: batch }, () => cache.createSequence());
        if (flags.cache === 'synthetic') {
          fillSyntheticCache(backend, cache, run.sequences, depth, vocab);
        } else {
          const fillStarted = performance.now();
          const prompts = run.sequences.map((_, s) => tokensFor(depth, vocab, s + 2));
          await prefill(model, run.sequences, prompts, PREFILL_CHUNK);
          run.fillTokS = (batch * depth) / ((performance.now() - fillStarted) / 1000);
        }
        // Warm-up, not timed: with graphs, the first step of a batch bucket runs eagerly and the
        // second captures its graph.
        await decode(run, 0);
        await decode(run, 1);
      }
      const timed = async (run: (typeof runs)[number], t: number) => {
        profile?.reset(); // (the cpu backend starts timing here)
        const started = performance.now();
        await decode(run, t);
        run.times.push(performance.now() - started);
        if (profile) run.kernels.add(profile.read());
      };
      if (flags.interleave || probeTurns) {
        // Turns of INTERLEAVE_STEPS timed steps per run, each after one untimed step: the step after another
        // batch's (or after a probe) finds the caches (and the TLB) as that left them (small's batch 1 on 2
        // Zen 5 cores: 3-8% slower than the steps after it, median of 10 turns, 3 runs).
        for (let turn = 0, t = 2; turn * INTERLEAVE_STEPS < flags.repeat; turn++) {
          const steps = Math.min(INTERLEAVE_STEPS, flags.repeat - turn * INTERLEAVE_STEPS);
          if (probeTurns) probes.push(probeNow());
          for (const run of turn % 2 === 0 ? runs : [...runs].reverse()) {
            await decode(run, t++);
            const from = run.times.length;
            for (let i = 0; i < steps; i++) await timed(run, t++);
            run.turns.push({ from, to: run.times.length });
          }
        }
        if (probeTurns) probes.push(probeNow());
      } else {
        for (let r = 0; r < flags.repeat; r++) {
          for (const run of r % 2 === 0 ? runs : [...runs].reverse()) await timed(run, r + 2);
        }
      }
      for (const run of runs) {
        const { batch, depth, variant } = run;
        const t = stats(run.times);
        const meanMs = run.times.reduce((sum, ms) => sum + ms, 0) / run.times.length;
        const gpuMs = profile ? run.kernels.ms / flags.repeat : null;
        const label = variants.length > 1 ? ` graphs ${variant.graphs ? 'on' : 'off'}` : '';
        // The cpu backend always profiles (for host_fraction): its table only with DSA_BENCH_KERNELS=1.
        if (profile && (backend.name !== 'cpu' || cliSetting('benchKernels')))
          process.stderr.write(
            `kernel profile, depth ${depth} batch ${batch}${label} (${flags.repeat} steps; µs per step):\n${run.kernels.table(flags.repeat)}\n`,
          );
        const graphs = run.model.graphStats;
        if (graphs) {
          process.stderr.write(
            `graphs after depth ${depth} batch ${batch}: captured ${graphs.captured}, replayed ${graphs.replayed}, eager ${graphs.eager}, invalidations ${graphs.invalidations}, failures ${graphs.failures}${graphs.lastFailure ? ` (${graphs.lastFailure})` : ''}\n`,
          );
        }
        const tgTokS = batch / (t.median / 1000);
        const tgGflops =
          (forwardFlops({ config, summary, attention, start: depth, tokens: 1 }) * tgTokS) / 1e9;
        const traffic = decodeTraffic({
          config,
          weights: weightBytes,
          attention,
          depth,
          batch,
          latentRowBytes,
          indexerRowBytes,
        });
        const bytesPerToken = Math.round(traffic.weightBytes + traffic.cacheBytes);
        // --probe turns: each turn against its own probes; else filled in after the end probe.
        const matched = probeTurns ? turnRoofline(run.times, run.turns, probes, bytesPerToken * batch) : null;
        emit({
          backend: base.backend,
          device: base.device,
          preset: base.preset,
          dtype: base.dtype,
          params_total: summary.paramsTotal,
          params_active: summary.paramsActive,
          batch,
          depth,
          attention,
          indexer: base.indexer,
          latent_cache: base.latent_cache,
          latent_row_bytes: base.latent_row_bytes,
          cache: flags.cache,
          graphs: variant.graphs,
          pp_tok_s: flags.prompt / run.ppSeconds,
          pp_gflops: ppFlops / run.ppSeconds / 1e9,
          peak_gflops: base.peak_gflops,
          tg_tok_s: tgTokS,
          tg_ms_median: t.median,
          tg_ms_min: t.min,
          tg_ms_max: t.max,
          tg_gflops: tgGflops,
          compute_fraction: base.peak_gflops === null ? null : tgGflops / base.peak_gflops,
          bytes_per_token: bytesPerToken,
          probe: probeTurns ? 'turns' : 'end',
          bandwidth_gbs: matched?.gbs ?? 0,
          bandwidth_gbs_min: matched?.min ?? 0,
          bandwidth_gbs_max: matched?.max ?? 0,
          roofline_fraction: matched?.fraction ?? 0,
          llc_bytes: base.llc_bytes,
          roofline_basis: rooflineBasis(bytesPerToken * batch, base.llc_bytes),
          weights_bytes: weightBytes.total,
          cache_bytes: cacheBytes,
          peak_rss_bytes: rss.bytes(),
          fill_tok_s: run.fillTokS,
          tg_gpu_ms: gpuMs,
          // Mean over mean (the same steps): a median step beside a mean kernel time reads 0 after one slow step.
          host_fraction: gpuMs === null ? null : Math.max(0, 1 - gpuMs / meanMs),
        });
      }
    } finally {
      for (const run of runs) for (const sequence of run.sequences) run.model.cache.release(sequence);
    }
  }
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/** Rounds the floating-point fields for printing. */
function tidy(r: BenchResult): BenchResult {
  return {
    ...r,
    pp_tok_s: round(r.pp_tok_s, 2),
    pp_gflops: round(r.pp_gflops, 2),
    peak_gflops: r.peak_gflops === null ? null : round(r.peak_gflops, 1),
    tg_tok_s: round(r.tg_tok_s, 3),
    tg_ms_median: round(r.tg_ms_median, 3),
    tg_ms_min: round(r.tg_ms_min, 3),
    tg_ms_max: round(r.tg_ms_max, 3),
    tg_gflops: round(r.tg_gflops, 2),
    compute_fraction: r.compute_fraction === null ? null : round(r.compute_fraction, 4),
    bandwidth_gbs: round(r.bandwidth_gbs, 2),
    bandwidth_gbs_min: round(r.bandwidth_gbs_min, 2),
    bandwidth_gbs_max: round(r.bandwidth_gbs_max, 2),
    roofline_fraction: round(r.roofline_fraction, 4),
    fill_tok_s: r.fill_tok_s === null ? null : round(r.fill_tok_s, 1),
    tg_gpu_ms: r.tg_gpu_ms === null ? null : round(r.tg_gpu_ms, 4),
    host_fraction: r.host_fraction === null ? null : round(r.host_fraction, 4),
  };
}

const HEADER = [
  'model',
  'dtype',
  'backend',
  'attention',
  'indexer',
  'cache',
  'graphs',
  'batch',
  'depth',
  'pp t/s',
  'pp GFLOP/s',
  'tg t/s',
  'tg ms (med/min/max)',
  'tg GFLOP/s',
  'MB/token',
  'GB/s',
  'roofline',
  'peak RSS MB',
];

function tableRow(r: BenchResult): string[] {
  return [
    r.preset,
    r.dtype,
    r.backend,
    r.attention,
    r.indexer,
    r.cache,
    r.graphs ? 'on' : 'off',
    String(r.batch),
    String(r.depth),
    r.pp_tok_s.toFixed(1),
    r.peak_gflops === null
      ? r.pp_gflops.toFixed(1)
      : `${r.pp_gflops.toFixed(1)} / ${r.peak_gflops.toFixed(0)}`,
    r.tg_tok_s.toFixed(2),
    `${r.tg_ms_median.toFixed(2)} / ${r.tg_ms_min.toFixed(2)} / ${r.tg_ms_max.toFixed(2)}`,
    r.compute_fraction === null
      ? r.tg_gflops.toFixed(1)
      : `${r.tg_gflops.toFixed(1)} (${(r.compute_fraction * 100).toFixed(0)}%)`,
    (r.bytes_per_token / 1e6).toFixed(2),
    r.probe === 'turns'
      ? `${r.bandwidth_gbs.toFixed(1)} (${r.bandwidth_gbs_min.toFixed(1)}-${r.bandwidth_gbs_max.toFixed(1)})`
      : r.bandwidth_gbs.toFixed(1),
    `${(r.roofline_fraction * 100).toFixed(1)}%${r.roofline_basis === 'cache' ? ' (cache)' : ''}`,
    (r.peak_rss_bytes / 1e6).toFixed(0),
  ];
}

/** Formats results as a markdown table. */
export function formatTable(results: readonly BenchResult[]): string {
  const rows = [HEADER, ...results.map(tableRow)];
  const widths = HEADER.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => cell.padStart(widths[c]!)).join(' | ')} |`;
  const rule = `| ${widths.map((w) => `${'-'.repeat(w - 1)}:`).join(' | ')} |`;
  const table = [line(HEADER), rule, ...rows.slice(1).map(line)];
  const cached = results.find((r) => r.roofline_basis === 'cache');
  if (cached) {
    const mib = (cached.llc_bytes! / 2 ** 20).toFixed(0);
    table.push(
      '',
      `(cache): bytes per step (bytes/token × batch) < 4 × the ${mib} MiB last-level cache, so the caches serve much of a step and the roofline is a cache figure, not a memory one.`,
    );
  }
  return table.join('\n');
}

/** `dsa bench`: prompt-processing and token-generation speed at given depths and batch sizes, like llama-bench. */
export async function benchCommand(flags: BenchFlags): Promise<BenchResult[]> {
  if (flags.model && flags.preset) throw new UsageError('give --model DIR or --preset NAME, not both');
  if (!flags.model && !flags.preset) throw new UsageError('give --model DIR or --preset NAME');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (flags.model && flags.layers !== undefined) throw new UsageError('--layers applies to --preset only');
  if (flags.plot !== undefined) checkPlotFile(flags.plot);
  const dir = flags.model ?? (await presetDir(flags.preset!, flags.dtype, flags.layers, log));
  const backend = await createBackend({ ...(flags.backend ? { backend: flags.backend } : {}) });
  const results: BenchResult[] = [];
  try {
    if (flags.probe === 'turns' && !backend.memoryReadBandwidth) {
      throw new UsageError(
        `--probe turns needs a backend with its own bandwidth probe; ${backend.name} has none`,
      );
    }
    const peak = backendPeakFlops(backend);
    // The host's caches matter to backends that run on its cores.
    const llcBytes =
      backend.name === 'cpu' || backend.name === 'reference' ? (flags.llc ?? lastLevelCacheBytes()) : null;
    const rss = new PeakRss();
    if (flags.probe === 'turns' && !rss.resettable) {
      log(
        `--probe turns: the peak resident set cannot be reset here (no writable /proc/self/clear_refs): peak_rss_bytes includes a probe's ${turnProbeBytes(llcBytes) / 2 ** 20} MiB`,
      );
    }
    if (flags.graphs && new Set(flags.graphs).size !== flags.graphs.length) {
      throw new UsageError('--graphs lists each of on and off at most once');
    }
    const maxDepth = Math.max(...flags.depth);
    // One batch at a time: its sequences, or the pp sequence before them. With --interleave every depth's and
    // batch's sequences at once (each in whole 64-token blocks, with the untimed step before each turn), beside
    // the next one's pp sequence.
    const blocks = (tokens: number) => Math.ceil(tokens / 64) * 64;
    // Turns (--interleave, --probe turns) take an untimed step before each.
    const untimed =
      flags.interleave || flags.probe === 'turns' ? Math.ceil(flags.repeat / INTERLEAVE_STEPS) : 0;
    const cacheTokens = flags.interleave
      ? flags.batch.reduce((sum, b) => sum + b, 0) *
          flags.depth.reduce((sum, d) => sum + blocks(d + flags.repeat + untimed + 8), 0) +
        blocks(flags.prompt) +
        64
      : Math.max(...flags.batch) * (maxDepth + flags.prompt + flags.repeat + untimed + 8) + 64;
    for (const indexer of flags.indexer ?? ['fp32']) {
      for (const attention of flags.attention) {
        const variants: Variant[] = [];
        try {
          for (const graphs of flags.graphs ?? [null]) {
            const model = await DeepseekModel.load(backend, dir, {
              attention,
              indexer,
              cacheTokens,
              ...(flags.latentCache ? { latentCache: flags.latentCache } : {}),
              ...(flags.stepMemory ? { stepMemory: flags.stepMemory } : {}),
              ...(graphs === null ? {} : { graphs: graphs === 'on' }),
            });
            variants.push({ model, graphs: model.graphStats !== null });
            if (graphs === 'on' && !model.graphStats) {
              log(
                `--graphs on: the ${backend.name} backend does not capture decode graphs here (DSA_GRAPHS=0?)`,
              );
            }
          }
          const model = variants[0]!.model;
          if (attention === 'sparse' && !model.config.indexer) {
            log(`skipping --attention sparse: ${dir} has no indexer (dense model)`);
            continue;
          }
          const base = {
            backend: backend.name,
            device: backend.device.description,
            preset: flags.preset ?? path.basename(path.resolve(dir)),
            dtype: weightsLabel(model.weights.layers),
            indexer,
            latent_cache: model.cache.latentFormat,
            latent_row_bytes: model.cache.latentRowBytes,
            peak_gflops: peak?.gflops ?? null,
            llc_bytes: llcBytes,
          };
          await measure(variants, flags, base, weightBytesOf(model.weights), rss, (result) =>
            results.push(result),
          );
        } finally {
          for (const { model } of variants) model.dispose();
        }
      }
    }
    // The end probe streams 1 GiB: it runs last so that peak_rss_bytes does not include it.
    const probe = results.some((r) => r.probe === 'end') ? probeBandwidth(backend) : null;
    for (const result of results) {
      if (probe && result.probe === 'end') {
        result.bandwidth_gbs = result.bandwidth_gbs_min = result.bandwidth_gbs_max = probe.gbs;
        result.roofline_fraction = (result.bytes_per_token * result.tg_tok_s) / (probe.gbs * 1e9);
        if (!probe.native) result.device = `${result.device} [bandwidth: single-thread JS probe]`;
      }
      if (flags.json) process.stdout.write(`${JSON.stringify(tidy(result))}\n`);
    }
    if (!flags.json) process.stdout.write(`${formatTable(results)}\n`);
    if (flags.plot !== undefined && results.length > 0) {
      await writePlot(flags.plot, benchPlot(results));
      log(`wrote ${flags.plot}`);
    }
    return results;
  } finally {
    backend.dispose();
  }
}
