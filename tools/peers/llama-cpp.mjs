// dsa side by side with node-llama-cpp (llama.cpp v0.5.0, `deepseek32`) on the same weights: our checkpoint
// and its GGUF export.
//
// Agreement: both engines are fed the same random ids (teacher forcing) and their logits compared at every
// position (max_abs_diff, top1_agree, median |diff| per window), plus greedy continuations; and our engine on
// the GGUF export against our engine on the checkpoint.
// Speed: prefill tok/s and decode ms/token at the given depths (their KV filled by a real prefill; ours by
// `dsa bench --cache prefill`), same threads.
//
// node-llama-cpp is installed on demand into tools/peers/llama-cpp/ from its package-lock.json (outside the
// pnpm workspace; the Quick start and CI never install it). Needs `pnpm build` first.
//
// Usage:
//   node tools/peers/llama-cpp.mjs --model /tmp/small --tokenizer fixtures/tiny-chat --part agreement --positions 512
//   node tools/peers/llama-cpp.mjs --model /tmp/small --tokenizer fixtures/tiny-chat --part speed --depths 1024,4096
// Output: one JSON line per measurement on stdout (dsa bench's keys plus engine, threads, max_abs_diff,
// top1_agree, n_positions), a table on stderr, and with --out DIR: results.jsonl and decode.svg there.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../../packages/backend/dist/index.js';
import { convertToGguf, DeepseekModel } from '../../packages/runtime/dist/index.js';
import { randomIds } from './random-ids.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const PEER = path.join(HERE, 'llama-cpp');
const REPO = path.resolve(HERE, '../..');

const { values: flags } = parseArgs({
  options: {
    model: { type: 'string' },
    gguf: { type: 'string' },
    type: { type: 'string', default: 'f32' },
    tokenizer: { type: 'string' },
    part: { type: 'string', default: 'agreement' },
    positions: { type: 'string', default: '512' },
    windows: { type: 'string', default: '' },
    greedy: { type: 'string', default: '16' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    'flash-attention': { type: 'string', default: 'off' },
    kv: { type: 'string', default: 'f32' },
    self: { type: 'string', default: 'on' },
    depths: { type: 'string', default: '1024,4096,16384,32768' },
    steps: { type: 'string', default: '16' },
    backend: { type: 'string', default: 'cpu' },
    preset: { type: 'string', default: '' },
    out: { type: 'string' },
  },
});
if (!flags.model) {
  process.stderr.write(
    'usage: node tools/peers/llama-cpp.mjs --model DIR [--tokenizer DIR] [--part agreement,speed]\n',
  );
  process.exit(2);
}
const threads = Number(flags.threads);
const parts = new Set(flags.part.split(','));
const log = (line) => process.stderr.write(`${line}\n`);
const results = [];
const emit = (row) => {
  results.push(row);
  process.stdout.write(`${JSON.stringify(row)}\n`);
};

/** Installs node-llama-cpp from the frozen lock when it is not there yet; the lock must not change. */
function ensurePeerInstalled() {
  if (fs.existsSync(path.join(PEER, 'node_modules/node-llama-cpp/package.json'))) return;
  const lock = path.join(PEER, 'package-lock.json');
  const hash = () => createHash('sha256').update(fs.readFileSync(lock)).digest('hex');
  const before = hash();
  log(`installing node-llama-cpp into ${PEER} from package-lock.json (CPU build only) ...`);
  // `npm ci` would insist on lock entries for every platform's optional binary, which npm 11 leaves out;
  // `npm install` with the lock present installs exactly the locked versions, and we check it left the lock alone.
  execFileSync('npm', ['install', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: PEER,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
  });
  if (hash() !== before) throw new Error(`${lock} changed during install; the peer install must be frozen`);
}

/** A backend config file for `dsa bench` (threads are not a bench flag). */
function writeConfig(config) {
  const file = path.join(tmp, 'dsa-config.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

/** Runs one node-llama-cpp task in a child process; returns its JSON lines. */
function peer(request) {
  const child = spawnSync(process.execPath, [path.join(PEER, 'worker.mjs'), JSON.stringify(request)], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (child.status !== 0) {
    const tail = `${child.stderr}`.split('\n').slice(-12).join('\n');
    throw new Error(`node-llama-cpp failed (exit ${child.status ?? child.signal}):\n${tail}`);
  }
  return child.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Our engine's teacher-forced logits [S, V] and greedy continuation. */
async function ours(modelPath, ids, greedy) {
  const backend = await createBackend({ backend: flags.backend, threads });
  const model = await DeepseekModel.load(backend, modelPath, { cacheTokens: ids.length + greedy + 64 });
  try {
    const v = model.config.vocabSize;
    const sequence = model.cache.createSequence();
    const result = await model.forward([{ sequence, tokens: ids }], { logits: 'all' });
    const logits = new Float32Array(ids.length * v);
    await backend.download(result.logits, logits);
    const tokens = [];
    let next = argmax(logits.subarray((ids.length - 1) * v));
    for (let i = 0; i < greedy; i++) {
      tokens.push(next);
      const step = await model.forward([{ sequence, tokens: [next] }]);
      const row = new Float32Array(v);
      await backend.download(step.logits, row);
      next = argmax(row);
    }
    model.cache.release(sequence);
    return { logits, vocab: v, greedy: tokens, device: backend.device.description, backend: backend.name };
  } finally {
    model.dispose();
    backend.dispose();
  }
}

/** max|a-b|, top-1 agreement, and per-window medians of the per-position max |diff|. */
function compare(a, b, vocab, positions, windows) {
  const perPosition = new Float64Array(positions);
  let agree = 0;
  for (let p = 0; p < positions; p++) {
    const ra = a.subarray(p * vocab, (p + 1) * vocab);
    const rb = b.subarray(p * vocab, (p + 1) * vocab);
    let m = 0;
    for (let i = 0; i < vocab; i++) m = Math.max(m, Math.abs(ra[i] - rb[i]));
    perPosition[p] = m;
    if (argmax(ra) === argmax(rb)) agree++;
  }
  const median = (xs) => {
    const s = [...xs].sort((x, y) => x - y);
    return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)];
  };
  const byWindow = windows.map(([from, to]) => {
    let windowAgree = 0;
    for (let p = from; p < Math.min(to, positions); p++) {
      if (argmax(a.subarray(p * vocab, (p + 1) * vocab)) === argmax(b.subarray(p * vocab, (p + 1) * vocab)))
        windowAgree++;
    }
    return {
      window: `${from}-${to - 1}`,
      median_abs_diff: median(perPosition.subarray(from, Math.min(to, positions))),
      max_abs_diff: Math.max(...perPosition.subarray(from, Math.min(to, positions))),
      top1_agree: windowAgree / Math.max(1, Math.min(to, positions) - from),
    };
  });
  return {
    max_abs_diff: Math.max(...perPosition),
    top1_agree: agree / positions,
    n_positions: positions,
    firstDiffOver: (t) => perPosition.findIndex((d) => d > t),
    windows: byWindow,
  };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-peers-'));
const gguf =
  flags.gguf ??
  (await (async () => {
    const file = path.join(tmp, `${path.basename(path.resolve(flags.model))}-${flags.type}.gguf`);
    log(`converting ${flags.model} to ${file} (${flags.type}) ...`);
    await convertToGguf(flags.model, file, {
      type: flags.type,
      ...(flags.tokenizer ? { tokenizerDir: flags.tokenizer } : {}),
    });
    return file;
  })());
ensurePeerInstalled();
const common = {
  gguf,
  threads,
  flashAttention: flags['flash-attention'] === 'on',
  kv: flags.kv.toUpperCase(),
};
const preset = flags.preset || path.basename(path.resolve(flags.model));

if (parts.has('agreement')) {
  const positions = Number(flags.positions);
  const greedy = Number(flags.greedy);
  const config = JSON.parse(fs.readFileSync(path.join(flags.model, 'config.json'), 'utf8'));
  const ids = randomIds(positions, Math.min(config.vocab_size, 1000), Number(flags.seed));
  const windows = flags.windows
    ? flags.windows.split(',').map((w) => w.split(':').map(Number))
    : positions > 320
      ? [
          [0, 320],
          [320, positions],
        ]
      : [[0, positions]];
  log(`agreement: ${positions} teacher-forced positions, ${greedy} greedy tokens, ${threads} threads`);
  const logitsFile = path.join(tmp, 'llama-logits.f32');
  const [theirs] = peer({ ...common, task: 'logits', ids, logitsFile, greedy });
  const theirLogits = new Float32Array(fs.readFileSync(logitsFile).buffer.slice(0));
  const fromCheckpoint = await ours(flags.model, ids, greedy);
  const base = {
    backend: fromCheckpoint.backend,
    device: fromCheckpoint.device,
    preset,
    dtype: flags.type,
    batch: 1,
    depth: 0,
    threads,
  };
  const versus = compare(fromCheckpoint.logits, theirLogits, theirs.vocab, positions, windows);
  emit({
    ...base,
    engine: 'node-llama-cpp vs dsa (checkpoint)',
    flash_attention: common.flashAttention,
    kv: common.kv,
    max_abs_diff: versus.max_abs_diff,
    top1_agree: versus.top1_agree,
    n_positions: positions,
    first_position_over_1e_4: versus.firstDiffOver(1e-4),
    windows: versus.windows,
    greedy_dsa: fromCheckpoint.greedy,
    greedy_llama_cpp: theirs.greedy,
    greedy_agree: fromCheckpoint.greedy.every((t, i) => t === theirs.greedy[i]),
  });
  if (flags.self === 'on') {
    const fromGguf = await ours(gguf, ids, greedy);
    const self = compare(fromCheckpoint.logits, fromGguf.logits, fromCheckpoint.vocab, positions, windows);
    emit({
      ...base,
      engine: 'dsa (GGUF export) vs dsa (checkpoint)',
      max_abs_diff: self.max_abs_diff,
      top1_agree: self.top1_agree,
      n_positions: positions,
      greedy_agree: fromCheckpoint.greedy.every((t, i) => t === fromGguf.greedy[i]),
    });
  }
}

if (parts.has('speed')) {
  const depths = flags.depths.split(',').map(Number);
  const steps = Number(flags.steps);
  log(`speed: depths ${depths.join(', ')}, ${steps} decode steps, ${threads} threads`);
  const config = JSON.parse(fs.readFileSync(path.join(flags.model, 'config.json'), 'utf8'));
  for (const row of peer({
    ...common,
    task: 'speed',
    depths,
    steps,
    seed: Number(flags.seed),
    idRange: Math.min(config.vocab_size, 1000),
  })) {
    emit({
      engine: 'node-llama-cpp',
      backend: 'llama.cpp',
      device: 'cpu',
      preset,
      dtype: flags.type,
      batch: 1,
      threads,
      ...row,
    });
  }
  const bench = spawnSync(
    process.execPath,
    [
      path.join(REPO, 'apps/cli/dist/bin.js'),
      'bench',
      '--model',
      flags.model,
      '--backend',
      flags.backend,
      '--depth',
      depths.join(','),
      '--cache',
      'prefill',
      '--repeat',
      String(steps),
      '--json',
    ],
    {
      encoding: 'utf8',
      env: { ...process.env, DSA_CONFIG: writeConfig({ backend: flags.backend, threads }) },
      maxBuffer: 1 << 26,
    },
  );
  if (bench.status !== 0) throw new Error(`dsa bench failed:\n${bench.stderr}`);
  for (const line of bench.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))) {
    const row = JSON.parse(line);
    emit({ engine: 'dsa', threads, ...row, preset });
  }
}

// Table and plot.
const speed = results.filter((r) => r.tg_ms_median !== undefined);
const agreement = results.filter((r) => r.top1_agree !== undefined);
for (const r of agreement) {
  log(
    `${r.engine.padEnd(40)} max_abs_diff ${r.max_abs_diff.toExponential(2)}  top1_agree ${(100 * r.top1_agree).toFixed(1)}%  (${r.n_positions} positions)`,
  );
  for (const w of r.windows ?? []) {
    log(
      `  positions ${w.window.padEnd(10)} median ${w.median_abs_diff.toExponential(2)}  max ${w.max_abs_diff.toExponential(2)}  top1 ${(100 * w.top1_agree).toFixed(1)}%`,
    );
  }
}
if (speed.length > 0) {
  log(`${'engine'.padEnd(16)}${'depth'.padStart(8)}${'pp tok/s'.padStart(12)}${'tg ms'.padStart(10)}`);
  for (const r of speed) {
    log(
      `${r.engine.padEnd(16)}${String(r.depth).padStart(8)}${r.pp_tok_s.toFixed(1).padStart(12)}${r.tg_ms_median.toFixed(2).padStart(10)}`,
    );
  }
}
if (flags.out) {
  fs.mkdirSync(flags.out, { recursive: true });
  fs.writeFileSync(
    path.join(flags.out, 'results.jsonl'),
    results.map((r) => JSON.stringify(r)).join('\n') + '\n',
  );
  if (speed.length > 0) fs.writeFileSync(path.join(flags.out, 'decode.svg'), plot(speed));
  log(`wrote ${flags.out}/results.jsonl${speed.length > 0 ? ' and decode.svg' : ''}`);
}
fs.rmSync(tmp, { recursive: true, force: true });

/** An SVG line plot of decode ms/token against depth (log2 x axis), one line per engine. */
function plot(rows) {
  const width = 640;
  const height = 400;
  const margin = { left: 60, right: 160, top: 30, bottom: 50 };
  const engines = [...new Set(rows.map((r) => r.engine))];
  const depthsAll = rows.map((r) => Math.max(1, r.depth));
  const [x0, x1] = [Math.log2(Math.min(...depthsAll)), Math.log2(Math.max(...depthsAll))];
  const yMax = Math.max(...rows.map((r) => r.tg_ms_median)) * 1.1;
  const x = (d) =>
    margin.left +
    ((Math.log2(Math.max(1, d)) - x0) / Math.max(1e-9, x1 - x0)) * (width - margin.left - margin.right);
  const y = (v) => height - margin.bottom - (v / yMax) * (height - margin.top - margin.bottom);
  const colors = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd'];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="${width / 2 - 80}" y="18">decode ms/token vs depth (${rows[0].preset}, ${rows[0].threads} threads)</text>`,
    `<line x1="${margin.left}" y1="${y(0)}" x2="${width - margin.right}" y2="${y(0)}" stroke="black"/>`,
    `<line x1="${margin.left}" y1="${y(0)}" x2="${margin.left}" y2="${margin.top}" stroke="black"/>`,
  ];
  for (const d of [...new Set(depthsAll)])
    parts.push(`<text x="${x(d) - 12}" y="${height - margin.bottom + 16}">${d}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    parts.push(`<text x="8" y="${y(v) + 4}">${v.toFixed(1)}</text>`);
  }
  parts.push(`<text x="${width / 2 - 40}" y="${height - 12}">depth (tokens)</text>`);
  engines.forEach((engine, i) => {
    const points = rows.filter((r) => r.engine === engine).sort((a, b) => a.depth - b.depth);
    const color = colors[i % colors.length];
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((r) => `${x(r.depth)},${y(r.tg_ms_median)}`).join(' ')}"/>`,
    );
    for (const r of points)
      parts.push(`<circle cx="${x(r.depth)}" cy="${y(r.tg_ms_median)}" r="3" fill="${color}"/>`);
    parts.push(
      `<text x="${width - margin.right + 10}" y="${margin.top + 20 * i + 10}" fill="${color}">${engine}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
