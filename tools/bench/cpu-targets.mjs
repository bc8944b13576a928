// The CPU backend's decode and prefill targets (issue 15), each one `dsa bench --json` run, checked and tabled.
// Every decode run takes --probe turns (the bandwidth probed between turns of timed steps, each turn against its
// own probes), so a roofline fraction compares steps and probe in the same phase of a machine whose bandwidth
// swings; the batches and the depths run with --interleave (their steps in turns), so their ratios hold.
// Usage (after `pnpm build`): node tools/bench/cpu-targets.mjs [--precision f32,bf16] [--only small,v32,batch,prefill,depth,long]
//   [--repeat 40] [--out DIR]   (DIR gets each run's JSON lines; the table goes to stdout)
// The v32-dims checkpoints (6.4 GB bf16, 4.9 GB fp8) are generated into $TMPDIR on first use, as `dsa bench` does.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    precision: { type: 'string', default: 'f32,bf16' },
    only: { type: 'string', default: 'small,v32,batch,prefill,depth,long' },
    repeat: { type: 'string', default: '40' },
    out: { type: 'string' },
  },
});
const bin = new URL('../../apps/cli/dist/bin.js', import.meta.url).pathname;
const parts = new Set(values.only.split(','));
const repeat = values.repeat;
if (values.out) fs.mkdirSync(values.out, { recursive: true });
const rows = [];
/** peak_gflops of the f32 precision's prefill run (its FMA peak), once measured. */
let fmaPeak = null;

/** One `dsa bench --backend cpu --json` run in `precision` with `flags` (space-separated); returns its JSON lines. */
function bench(name, precision, flags) {
  const args = ['bench', '--backend', 'cpu', '--json', ...flags.split(' ')];
  const stdout = execFileSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DSA_CPU_PRECISION: precision },
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 1 << 26,
  });
  if (values.out) fs.writeFileSync(path.join(values.out, `${name}-${precision}.jsonl`), stdout);
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

/** A row of the table: what was measured against the target, and whether it is met. */
function check(target, precision, measured, met) {
  rows.push({ target, precision, measured, met: met ? 'met' : 'not met' });
  process.stderr.write(`${target} (${precision}): ${measured} — ${met ? 'met' : 'not met'}\n`);
}

const f = (x, d = 3) => Number(x).toFixed(d);
/** A decode line's roofline against its own probes, as the table gives it. */
const matched = (r) =>
  `roofline ${f(r.roofline_fraction)} (${r.roofline_basis}; probes ${f(r.bandwidth_gbs_min, 1)}–${f(r.bandwidth_gbs_max, 1)} GB/s)`;
const small = '--preset small --dtype bf16 --indexer fp8';
for (const precision of values.precision.split(',')) {
  if (parts.has('small')) {
    const [r] = bench(
      'small-b1',
      precision,
      `${small} --prompt 64 --depth 1024 --repeat ${repeat} --probe turns`,
    );
    check(
      'small bf16 b1 depth 1024: roofline ≥ 0.7 (dram), host ≤ 0.1',
      precision,
      `${f(r.tg_ms_median)} ms, ${matched(r)}, host ${f(r.host_fraction)}`,
      r.roofline_basis === 'dram' && r.roofline_fraction >= 0.7 && r.host_fraction <= 0.1,
    );
  }
  if (parts.has('v32')) {
    const v32 = {};
    for (const dtype of ['bf16', 'fp8']) {
      const flags = `--preset v32-dims --dtype ${dtype} --indexer fp8 --prompt 64 --depth 4096 --repeat 16 --probe turns`;
      [v32[dtype]] = bench(`v32-${dtype}`, precision, flags);
      const r = v32[dtype];
      check(
        `v32-dims ${dtype} b1 depth 4096: roofline ≥ 0.8 (dram)`,
        precision,
        `${f(r.tg_ms_median, 1)} ms, ${matched(r)}`,
        r.roofline_basis === 'dram' && r.roofline_fraction >= 0.8,
      );
    }
    // fp8 tok/s ≥ 0.9 × (bf16 bytes ÷ fp8 bytes) × bf16 tok/s. The two runs cannot be interleaved (two
    // checkpoints), so beside the tok/s ratio the phase-free form: fp8's fraction of its probes ≥ 0.9 × bf16's.
    const bytes = v32.bf16.bytes_per_token / v32.fp8.bytes_per_token;
    const tokS = v32.fp8.tg_tok_s / v32.bf16.tg_tok_s;
    check(
      'v32-dims fp8 tok/s ≥ 0.9 × bytes ratio × bf16 tok/s',
      precision,
      `${f(tokS)}× against ${f(0.9 * bytes)}× (as fractions of their own probes: ${f(v32.fp8.roofline_fraction)} / ${f(v32.bf16.roofline_fraction)} = ${f(v32.fp8.roofline_fraction / v32.bf16.roofline_fraction)}, against 0.9)`,
      tokS >= 0.9 * bytes,
    );
  }
  if (parts.has('batch')) {
    const lines = bench(
      'small-batch',
      precision,
      `${small} --prompt 64 --depth 1024 --batch 1,8,32 --repeat ${repeat} --interleave --probe turns`,
    );
    const one = lines.find((l) => l.batch === 1);
    for (const [batch, want] of [
      [8, 4.5],
      [32, 10],
    ]) {
      const r = lines.find((l) => l.batch === batch);
      const ratio = r.tg_tok_s / one.tg_tok_s;
      check(
        `small batch ${batch} ≥ ${want}× batch 1 (--interleave)`,
        precision,
        `${f(ratio, 2)}× (${f(r.tg_ms_median, 2)} against ${f(one.tg_ms_median, 2)} ms; roofline ${f(r.roofline_fraction)} ${r.roofline_basis}, compute ${f(r.compute_fraction)} of ${f(r.peak_gflops, 0)} GFLOP/s)`,
        ratio >= want,
      );
    }
  }
  if (parts.has('prefill')) {
    const [r] = bench('small-prefill', precision, `${small} --prompt 2048 --depth 64 --repeat 1`);
    // The target is against the f32 FMA peak (the f32 precision's peak_gflops, measured when that precision runs
    // first), whatever instructions get there; the bf16 precision's own peak_gflops is vdpbf16ps's.
    if (precision === 'f32') fmaPeak = r.peak_gflops;
    const own = `${f(r.pp_gflops / r.peak_gflops)} of its own ${f(r.peak_gflops, 1)}`;
    check(
      'small prefill 2048: ≥ 0.7 of the f32 FMA peak_gflops',
      precision,
      `${f(r.pp_gflops, 1)} GFLOP/s (${f(r.pp_tok_s, 0)} tok/s): ${fmaPeak ? `${f(r.pp_gflops / fmaPeak)} of the FMA's ${f(fmaPeak, 1)}, ` : ''}${own}`,
      r.pp_gflops >= 0.7 * (fmaPeak ?? r.peak_gflops),
    );
  }
  if (parts.has('depth')) {
    const lines = bench(
      'small-depth',
      precision,
      `${small} --prompt 64 --depth 2048,32768,65536 --repeat 24 --attention sparse,dense --interleave --probe turns`,
    );
    const at = (depth, attention) => lines.find((l) => l.depth === depth && l.attention === attention);
    const ratio = at(32768, 'sparse').tg_ms_median / at(2048, 'sparse').tg_ms_median;
    check(
      'small 32K ≤ 1.3 × 2K (fp8 indexer, sparse)',
      precision,
      `${f(at(2048, 'sparse').tg_ms_median, 2)} → ${f(at(32768, 'sparse').tg_ms_median, 2)} ms (${f(ratio, 2)}×); 65536: ${f(at(65536, 'sparse').tg_ms_median, 2)} ms; dense ${[2048, 32768, 65536].map((d) => f(at(d, 'dense').tg_ms_median, 2)).join(' / ')} ms`,
      ratio <= 1.3,
    );
  }
  if (parts.has('long')) {
    // v32-dims fp8 at depth 131072 (its context is 163840), sparse with the fp8 indexer and dense beside it, within
    // weights + caches + 300 MB (the sparse line's peak_rss_bytes, taken before the dense model loads; a 16-token pp
    // forward, as a long prompt would run in chunks under --step-memory).
    const lines = bench(
      'v32-long',
      precision,
      '--preset v32-dims --dtype fp8 --indexer fp8 --prompt 16 --depth 131072 --repeat 4 --attention sparse,dense',
    );
    const sparse = lines.find((l) => l.attention === 'sparse');
    const dense = lines.find((l) => l.attention === 'dense');
    const budget = sparse.weights_bytes + sparse.cache_bytes + 300e6;
    check(
      'v32-dims fp8 at depth 131072 (sparse, fp8 indexer) within weights + caches + 300 MB',
      precision,
      `${f(sparse.tg_ms_median, 1)} ms (dense ${f(dense.tg_ms_median, 1)} ms, ${f(dense.tg_ms_median / sparse.tg_ms_median, 1)}×); peak RSS ${f(sparse.peak_rss_bytes / 1e9)} GB against ${f(budget / 1e9)} GB`,
      sparse.peak_rss_bytes <= budget,
    );
  }
}
process.stdout.write(
  [
    '| target | precision | measured | |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.target} | ${r.precision} | ${r.measured} | ${r.met} |`),
  ].join('\n') + '\n',
);
