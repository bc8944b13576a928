import { describe, expect, it } from 'vitest';
import { lastLevelCacheBytes, rooflineBasis } from './bench/llc.js';
import { capture } from './test-capture.js';

const KEYS = [
  'backend',
  'device',
  'preset',
  'dtype',
  'params_total',
  'params_active',
  'batch',
  'depth',
  'attention',
  'indexer',
  'latent_cache',
  'latent_row_bytes',
  'cache',
  'graphs',
  'pp_tok_s',
  'pp_gflops',
  'peak_gflops',
  'tg_tok_s',
  'tg_ms_median',
  'tg_ms_min',
  'tg_ms_max',
  'tg_gflops',
  'compute_fraction',
  'bytes_per_token',
  'probe',
  'bandwidth_gbs',
  'bandwidth_gbs_min',
  'bandwidth_gbs_max',
  'roofline_fraction',
  'llc_bytes',
  'roofline_basis',
  'weights_bytes',
  'cache_bytes',
  'peak_rss_bytes',
  'fill_tok_s',
  'tg_gpu_ms',
  'host_fraction',
];

/** `dsa bench --preset tiny --backend BACKEND --json` with the given flags. */
const tinyBench = (flags: string, backend = 'reference') =>
  capture(['bench', '--preset', 'tiny', '--backend', backend, '--json', ...flags.split(' ')]);

/** The JSON lines of a `dsa bench --json` run that succeeded with nothing on stderr matching "error". */
function benchLines(run: { code: number; stdout: string; stderr: string }): Record<string, unknown>[] {
  expect(run.stderr).not.toMatch(/error/);
  expect(run.code).toBe(0);
  return run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The last-level cache of this machine's cores (null where sysfs does not say). */
const LLC = lastLevelCacheBytes();

describe('dsa bench', () => {
  it('prints one JSON line per (depth, batch) with every key and sane values', async () => {
    const run = await tinyBench('--depth 64 --batch 1,2 --repeat 2 --prompt 32');
    const lines = benchLines(run);
    expect(lines.map((l) => l.batch)).toEqual([1, 2]);
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(KEYS);
      expect(line).toMatchObject({
        backend: 'reference',
        preset: 'tiny',
        dtype: 'bf16',
        depth: 64,
        attention: 'sparse',
        indexer: 'fp32',
        latent_cache: 'f32',
        latent_row_bytes: (32 + 8) * 4, // tiny: C = 32, R = 8
        cache: 'synthetic',
        graphs: false, // the reference backend does not capture without its opt-in fused kernels
        peak_gflops: null, // the reference backend has no cpu kernel set
        compute_fraction: null, // so no compute roofline either
        fill_tok_s: null, // synthetic cache: nothing was prefilled
        tg_gpu_ms: null, // no kernel profile on the reference backend
        host_fraction: null,
      });
      expect(line.device).toMatch(/JS probe/);
      for (const key of KEYS.slice(4)) {
        if (typeof line[key] !== 'number') continue;
        expect(line[key], key).toBeGreaterThan(0);
        expect(Number.isFinite(line[key]), key).toBe(true);
      }
      expect(line.params_active as number).toBeLessThan(line.params_total as number);
      expect(line.tg_ms_min as number).toBeLessThanOrEqual(line.tg_ms_median as number);
      expect(line.tg_ms_median as number).toBeLessThanOrEqual(line.tg_ms_max as number);
      expect(line.roofline_fraction as number).toBeLessThan(1);
      // The reference backend runs on these cores: their cache (tiny's few MB per token fit a 32 MiB L3).
      expect(line.llc_bytes).toBe(LLC);
      expect(line.roofline_basis).toBe(
        rooflineBasis((line.bytes_per_token as number) * (line.batch as number), LLC),
      );
      if (LLC !== null && LLC >= 2 ** 25) expect(line.roofline_basis).toBe('cache');
    }
  }, 60_000);

  it('takes the last-level cache from --llc where given (hosts whose sysfs hides it)', async () => {
    // tiny reads about 2 MB per token: dram against a 256 KiB cache, cache against 64 MiB.
    for (const [llc, basis] of [
      ['256KiB', 'dram'],
      ['64MiB', 'cache'],
    ] as const) {
      const [line] = benchLines(await tinyBench(`--depth 16 --repeat 1 --prompt 8 --llc ${llc}`));
      expect(line!.llc_bytes).toBe(llc === '256KiB' ? 2 ** 18 : 2 ** 26);
      expect(line!.roofline_basis).toBe(basis);
    }
    // The basis is a step's bytes (per token × batch): an LLC a quarter of the way between batch 1's step and
    // batch 4's makes the first `cache` and the second `dram`.
    const lines = benchLines(await tinyBench('--depth 16 --batch 1,4 --repeat 1 --prompt 8'));
    const [one, four] = lines.map((l) => (l.bytes_per_token as number) * (l.batch as number));
    expect(four!).toBeGreaterThan(one! * 1.2);
    const between = Math.round((one! + four!) / 8);
    const split = benchLines(
      await tinyBench(`--depth 16 --batch 1,4 --repeat 1 --prompt 8 --llc ${between}`),
    );
    expect(split.map((l) => l.roofline_basis)).toEqual(['cache', 'dram']);
    const bad = await tinyBench('--depth 16 --llc lots');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--llc: "lots" is not a size/);
  }, 60_000);

  it('reports host_fraction and the roofline basis on the cpu backend', async () => {
    const { code, stdout, stderr } = await tinyBench('--depth 64 --batch 1,2 --repeat 3 --prompt 16', 'cpu');
    expect(stderr).not.toMatch(/error/);
    expect(stderr).not.toMatch(/kernel profile/); // the per-kernel table only with DSA_BENCH_KERNELS=1
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, number | string | null>);
    expect(lines.map((l) => l.batch)).toEqual([1, 2]);
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(KEYS);
      expect(line.backend).toBe('cpu');
      expect(line.llc_bytes).toBe(LLC);
      expect(line.roofline_basis).toBe(
        rooflineBasis((line.bytes_per_token as number) * (line.batch as number), LLC),
      );
      // Kernel bodies take part of a step, never more than all of it.
      const kernelMs = line.tg_gpu_ms as number;
      const host = line.host_fraction as number;
      expect(kernelMs).toBeGreaterThan(0);
      expect(host).toBeGreaterThanOrEqual(0);
      expect(host).toBeLessThanOrEqual(1);
      // Against the mean step (between the fastest and the slowest), not the median.
      expect(host).toBeGreaterThanOrEqual(Math.max(0, 1 - kernelMs / (line.tg_ms_min as number)) - 1e-3);
      expect(host).toBeLessThanOrEqual(1 - kernelMs / (line.tg_ms_max as number) + 1e-3);
      // Decode FLOPs: at least the weight matrices' 2 · (active − embedding) per token, below 2 · params_total.
      const flopsPerToken = ((line.tg_gflops as number) * 1e9) / (line.tg_tok_s as number);
      expect(flopsPerToken).toBeLessThan(2 * (line.params_total as number));
      expect(flopsPerToken).toBeGreaterThan(2 * (line.params_active as number) * 0.5);
      expect(line.compute_fraction as number).toBeCloseTo(
        (line.tg_gflops as number) / (line.peak_gflops as number),
        3,
      );
    }
    // The FLOPs of a token do not depend on how many share its step.
    const perToken = lines.map((l) => (l.tg_gflops as number) / (l.tg_tok_s as number));
    expect(perToken[1]! / perToken[0]!).toBeCloseTo(1, 2);
  }, 60_000);

  it('measures decode graphs on and off side by side with --graphs on,off', async () => {
    const run = await tinyBench('--depth 64 --batch 1 --repeat 4 --prompt 16 --graphs on,off', 'cpu');
    const { stderr } = run;
    const lines = benchLines(run);
    expect(lines.map((l) => l.graphs)).toEqual([true, false]);
    // Each variant timed its own steps, after two warm-up steps (the second captures the graph).
    expect(stderr).toMatch(/graphs after depth 64 batch 1: captured 1, replayed 5, eager 1/);
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(KEYS);
      expect(line.tg_ms_median as number).toBeGreaterThan(0);
      expect(line.host_fraction as number).toBeGreaterThanOrEqual(0);
      expect(line.host_fraction as number).toBeLessThanOrEqual(1);
    }
    expect((await tinyBench('--graphs on,on', 'cpu')).code).toBe(2);
  }, 60_000);

  it('times the batches of a depth together with --interleave', async () => {
    const run = await tinyBench('--depth 64 --batch 1,2,4 --repeat 3 --prompt 16 --interleave', 'cpu');
    const lines = benchLines(run);
    expect(lines.map((l) => [l.depth, l.batch])).toEqual([
      [64, 1],
      [64, 2],
      [64, 4],
    ]);
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(KEYS);
      expect(line.tg_ms_median as number).toBeGreaterThan(0);
      const tokS = (line.batch as number) / ((line.tg_ms_median as number) / 1000);
      expect(Math.abs((line.tg_tok_s as number) / tokS - 1)).toBeLessThan(0.01);
    }
    // All three batches were warmed up (one eager step and one capture each) before any was timed, then each
    // took its turn of one untimed and 3 timed steps: the stats after the first batch's line count them all.
    expect(run.stderr).toMatch(/graphs after depth 64 batch 1: captured 3, replayed 15, eager 3/);
    // The cache counts the untimed steps too: at depth 56 and 60 repeats, 56 + 2 + 60 + 15 tokens pass the
    // 128-token blocks that depth, repeats and slack alone would round up to ("KV cache full" before).
    const long = await tinyBench('--depth 56 --batch 1,2 --repeat 60 --prompt 8 --interleave', 'cpu');
    expect(long.stderr).not.toMatch(/KV cache full/);
    expect(benchLines(long).map((l) => l.batch)).toEqual([1, 2]);
  }, 60_000);

  it('times every depth and batch together with --interleave', async () => {
    const run = await tinyBench('--depth 32,64 --batch 1,2 --repeat 3 --prompt 16 --interleave', 'cpu');
    expect(benchLines(run).map((l) => [l.depth, l.batch])).toEqual([
      [32, 1],
      [32, 2],
      [64, 1],
      [64, 2],
    ]);
    // Every pair was warmed up (one eager step and one capture each) and took its turn of one untimed and 3
    // timed steps before the first line: the stats after depth 32 count depth 64's steps too (one depth at a
    // time, they read captured 2, replayed 10).
    expect(run.stderr).toMatch(/graphs after depth 32 batch 1: captured 4, replayed 20, eager 4/);
    // The cache holds every pair's sequences at once: sized by the largest depth alone, 3 sequences of 256
    // tokens (depth 120, 60 repeats, 15 untimed steps and slack) leave no room for the 3 of depth 56.
    const long = await tinyBench('--depth 56,120 --batch 1,2 --repeat 60 --prompt 8 --interleave', 'cpu');
    expect(long.stderr).not.toMatch(/KV cache full/);
    expect(benchLines(long).map((l) => [l.depth, l.batch])).toEqual([
      [56, 1],
      [56, 2],
      [120, 1],
      [120, 2],
    ]);
  }, 60_000);

  it('with --probe turns, divides each turn by the probes either side, and leaves them out of peak_rss_bytes', async () => {
    const flags = '--depth 64 --batch 1,2 --repeat 8 --prompt 16';
    const turns = benchLines(await tinyBench(`${flags} --probe turns`, 'cpu'));
    const end = benchLines(await tinyBench(flags, 'cpu'));
    expect(turns.map((l) => l.batch)).toEqual([1, 2]);
    for (const line of turns) {
      expect(Object.keys(line)).toEqual(KEYS);
      expect(line.probe).toBe('turns');
      const [gbs, min, max] = [
        line.bandwidth_gbs,
        line.bandwidth_gbs_min,
        line.bandwidth_gbs_max,
      ] as number[];
      expect(min).toBeGreaterThan(0);
      expect(min).toBeLessThanOrEqual(gbs!);
      expect(gbs).toBeLessThanOrEqual(max!);
      // The median turn's fraction lies between the slowest step against the fastest probe and the reverse.
      const bytesPerStep = (line.bytes_per_token as number) * (line.batch as number);
      const fraction = line.roofline_fraction as number;
      expect(fraction).toBeGreaterThanOrEqual(
        (bytesPerStep / ((line.tg_ms_max as number) / 1000) / (max! * 1e9)) * 0.999,
      );
      expect(fraction).toBeLessThanOrEqual(
        (bytesPerStep / ((line.tg_ms_min as number) / 1000) / (min! * 1e9)) * 1.001,
      );
    }
    for (const line of end) {
      expect(line.probe).toBe('end');
      expect(line.bandwidth_gbs_min).toBe(line.bandwidth_gbs);
      expect(line.bandwidth_gbs_max).toBe(line.bandwidth_gbs);
    }
    // Each turn's probe maps at least 256 MiB; none of it counts (Linux resets the mark after each probe).
    if (process.platform === 'linux') {
      expect(turns[1]!.peak_rss_bytes as number).toBeLessThan(
        (end[1]!.peak_rss_bytes as number) + 128 * 2 ** 20,
      );
    }
    // Only backends with their own probe; the choices are end and turns.
    const reference = await tinyBench('--depth 16 --repeat 1 --prompt 8 --probe turns');
    expect(reference.code).toBe(2);
    expect(reference.stderr).toMatch(/--probe turns needs a backend with its own bandwidth probe; reference/);
    expect((await tinyBench('--depth 16 --repeat 1 --prompt 8 --probe always', 'cpu')).code).toBe(2);
  }, 60_000);

  it('times the fill with --cache prefill', async () => {
    const { code, stdout } = await tinyBench('--depth 40 --cache prefill --repeat 1 --prompt 8');
    expect(code).toBe(0);
    const line = JSON.parse(stdout.trim()) as Record<string, unknown>;
    expect(line.cache).toBe('prefill');
    expect(line.fill_tok_s as number).toBeGreaterThan(0);
    expect(line.depth).toBe(40);
  }, 60_000);

  it('runs on the fp8 latent cache and reports its 656-byte-layout rows (C + 4 + 2·R = 52 B for tiny)', async () => {
    const run = await tinyBench(
      '--depth 40 --repeat 1 --prompt 8 --latent-cache fp8 --attention sparse,dense',
      'cpu',
    );
    const lines = benchLines(run);
    expect(lines.map((l) => l.attention)).toEqual(['sparse', 'dense']);
    for (const line of lines) {
      expect(line).toMatchObject({ latent_cache: 'fp8', latent_row_bytes: 32 + 4 + 2 * 8 });
      expect(line.tg_tok_s as number).toBeGreaterThan(0);
    }
  }, 60_000);

  it('refuses bad flags with exit code 2', async () => {
    expect((await capture(['bench', '--preset', 'tiny', '--depth', 'x'])).code).toBe(2);
    expect((await capture(['bench', '--preset', 'tiny', '--attention', 'both'])).code).toBe(2);
    expect((await capture(['bench', '--preset', 'tiny', '--indexer', 'int8'])).code).toBe(2);
    expect((await capture(['bench', '--preset', 'tiny', '--graphs', 'maybe'])).code).toBe(2);
    const latent = await capture(['bench', '--preset', 'tiny', '--latent-cache', 'fp16']);
    expect(latent.code).toBe(2);
    expect(latent.stderr).toMatch(/--latent-cache.*fp16/);
    expect((await capture(['bench', '--backend', 'reference'])).code).toBe(2);
  });
});
