// dsa side by side with node-llama-cpp (llama.cpp v0.5.0, `deepseek32`) on the same weights: our checkpoint
// and its GGUF export.
//
// Agreement: both engines are fed the same ids (teacher forcing) and their logits compared at every
// position (max_abs_diff, top1_agree, median |diff| per position range), plus greedy continuations; and our
// engine on the GGUF export against our engine on the checkpoint. The ids are random (--seed), or with
// --text FILE the file's tokens cut into windows of --context (each window a fresh sequence; both
// tokenizers must give the same ids, checked first), and then both engines' perplexity too.
// Speed: prefill tok/s and decode ms/token at the given depths (their KV filled by a real prefill of `depth`
// tokens in 512-token batches; ours by `dsa bench --cache prefill`, the same 512-token chunks: its fill_tok_s
// is our pp_tok_s here), same threads; --ours gguf benches our engine on the GGUF instead of the checkpoint;
// --indexer fp8 runs ours with DeepSeek's fp8 lightning indexer (e4m3 keys, one scale per token) instead of f32;
// --precision bf16 runs ours in the cpu backend's opt-in bf16 precision (DSA_CPU_PRECISION; rows say `precision`).
// --batches 1,8,32 decodes that many sequences at once at each depth (theirs: one context of B sequences, each
// step one token of each evaluated as one llama.cpp batch; ours: `dsa bench --batch --interleave`); both time
// the batches in turns of 4 steps (ours every depth's at once: its cache holds them all, so give few depths);
// the table gives each engine's tok/s against its own batch 1.
// Roofline: node-llama-cpp's rows get bytes_per_token from the GGUF's tensor table (gguf-traffic.mjs, the split dsa
// bench uses) and roofline_fraction against the read probe of our bench at the same depth in the same run.
//
// node-llama-cpp is installed on demand into tools/peers/llama-cpp/ from its package-lock.json (outside the
// pnpm workspace; the Quick start and CI never install it). Needs `pnpm build` first.
//
// Usage:
//   node tools/peers/llama-cpp.mjs --model /tmp/small --tokenizer fixtures/tiny-chat --part agreement --positions 512
//   node tools/peers/llama-cpp.mjs --model /tmp/small --tokenizer fixtures/tiny-chat --part speed --depths 1024,4096
//   node tools/peers/llama-cpp.mjs --model /tmp/small --tokenizer fixtures/tiny-chat --type bf16 --part speed \
//     --depths 1024 --batches 1,8,32 --indexer fp8 --precision bf16
//   node tools/peers/llama-cpp.mjs --model packages/demo-model --type f32 --text fixtures/demo-model/heldout.txt \
//     --context 2048 --positions 4096 --out /tmp/peers-demo
// Output: one JSON line per measurement on stdout (dsa bench's keys plus engine, threads, max_abs_diff,
// top1_agree, n_positions), a table on stderr, and with --out DIR: results.jsonl (--append: added to the
// rows already there), decode.svg of all speed rows there, and for agreement the ids fed (ids.json) and the
// positions where top-1 differs (disagreements.json) for tools/peers/indexer-margins.mjs --ids / --at.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchPlot } from '../../apps/cli/dist/plot/index.js';
import { createBackend } from '../../packages/backend/dist/index.js';
import { convertToGguf, DeepseekModel, Tokenizer } from '../../packages/runtime/dist/index.js';
import { argmax, compareLogits, perplexity } from './compare-logits.mjs';
import { ggufDecodeBytes } from './gguf-traffic.mjs';
import { randomIds } from './random-ids.mjs';

/**
 * `dsa bench --plot`'s two panels (decode ms/token and prefill tok/s against depth) over the speed rows of both
 * engines: one line per engine · dtype (the prefill panel: `pp_tok_s`, the fill of each depth on both sides).
 */
function peerPlot(rows) {
  return benchPlot(
    rows.map((r) => ({
      ...r,
      backend: r.engine === 'dsa' ? 'dsa (cpu)' : r.engine,
      attention: r.attention ?? 'sparse',
      indexer: r.indexer ?? 'fp32',
      batch: r.batch ?? 1,
      fill_tok_s: r.pp_tok_s, // both engines' pp_tok_s is the fill of that depth
    })),
  );
}

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
    text: { type: 'string' },
    context: { type: 'string' },
    greedy: { type: 'string', default: '16' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    'flash-attention': { type: 'string', default: 'off' },
    kv: { type: 'string', default: 'f32' },
    self: { type: 'string', default: 'on' },
    depths: { type: 'string', default: '1024,4096,16384,32768' },
    batches: { type: 'string', default: '1' },
    steps: { type: 'string', default: '16' },
    backend: { type: 'string', default: 'cpu' },
    ours: { type: 'string', default: 'checkpoint' },
    engines: { type: 'string', default: 'llama.cpp,dsa' },
    indexer: { type: 'string', default: 'fp32' },
    precision: { type: 'string', default: '' },
    preset: { type: 'string', default: '' },
    out: { type: 'string' },
    append: { type: 'boolean', default: false },
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
const engines = new Set(flags.engines.split(','));
if (flags.indexer !== 'fp32' && flags.indexer !== 'fp8') {
  process.stderr.write(`--indexer: "${flags.indexer}" must be fp32 or fp8 (our indexer's keys and scores)\n`);
  process.exit(2);
}
if (flags.ours !== 'checkpoint' && flags.ours !== 'gguf') {
  process.stderr.write(`--ours: "${flags.ours}" must be checkpoint or gguf\n`);
  process.exit(2);
}
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

/**
 * Our engine's teacher-forced logits [Σ lengths, V] of `sequences` (each a fresh cache sequence, logits back to
 * back) and the greedy continuation of the last one.
 */
async function ours(modelPath, sequences, greedy) {
  const backend = await createBackend({
    backend: flags.backend,
    threads,
    ...(flags.precision ? { settings: { precision: flags.precision } } : {}),
  });
  const longest = Math.max(...sequences.map((ids) => ids.length));
  const model = await DeepseekModel.load(backend, modelPath, { cacheTokens: longest + greedy + 64 });
  try {
    const v = model.config.vocabSize;
    const total = sequences.reduce((sum, ids) => sum + ids.length, 0);
    const logits = new Float32Array(total * v);
    let offset = 0;
    let sequence = null;
    for (const ids of sequences) {
      if (sequence !== null) model.cache.release(sequence);
      sequence = model.cache.createSequence();
      const result = await model.forward([{ sequence, tokens: ids }], { logits: 'all' });
      await backend.download(result.logits, logits.subarray(offset * v, (offset + ids.length) * v));
      offset += ids.length;
    }
    const tokens = [];
    let next = argmax(logits.subarray((total - 1) * v));
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

/** Consecutive [from, to) ranges between the sorted distinct `bounds` that lie in [0, context]. */
function rangesFrom(bounds, context) {
  const cuts = [...new Set(bounds.filter((b) => b >= 0 && b <= context))].sort((a, b) => a - b);
  return cuts.slice(1).map((to, i) => [cuts[i], to]);
}

/** The ids both engines are fed: windows of --text's tokens (checked against llama.cpp's), or random ids. */
async function agreementIds(config) {
  const positions = Number(flags.positions);
  if (!flags.text) {
    return {
      sequences: [randomIds(positions, Math.min(config.vocab_size, 1000), Number(flags.seed))],
      context: positions,
    };
  }
  const context = Number(flags.context ?? Math.min(2048, config.max_position_embeddings));
  const tokenizer = await Tokenizer.fromFolder(flags.tokenizer ?? flags.model);
  const text = fs.readFileSync(flags.text, 'utf8');
  const ids = tokenizer.encode(text);
  const idsFile = path.join(tmp, 'llama-ids.json');
  peer({ ...common, task: 'tokenize', textFile: path.resolve(flags.text), idsFile });
  const theirs = JSON.parse(fs.readFileSync(idsFile, 'utf8'));
  const first = ids.findIndex((id, i) => id !== theirs[i]);
  const same = first < 0 && ids.length === theirs.length;
  emit({
    engine: 'node-llama-cpp vs dsa tokenizer',
    text: flags.text,
    chars: text.length,
    n_tokens_dsa: ids.length,
    n_tokens_llama_cpp: theirs.length,
    identical: same,
    first_difference: same ? null : first < 0 ? Math.min(ids.length, theirs.length) : first,
  });
  if (!same)
    throw new Error(`${flags.text}: the two tokenizers part at token ${first}; fix the GGUF tokenizer`);
  const count = Math.max(1, Math.floor(positions / context));
  if (count * context > ids.length)
    throw new Error(`${flags.text} has ${ids.length} tokens, fewer than ${count} windows of ${context}`);
  return {
    sequences: Array.from({ length: count }, (_, w) => ids.slice(w * context, (w + 1) * context)),
    context,
  };
}

if (parts.has('agreement')) {
  const greedy = Number(flags.greedy);
  const config = JSON.parse(fs.readFileSync(path.join(flags.model, 'config.json'), 'utf8'));
  const { sequences, context } = await agreementIds(config);
  const ids = sequences.flat();
  const positions = ids.length;
  const k = config.index_topk ?? 0;
  const windows = flags.windows
    ? flags.windows.split(',').map((w) => w.split(':').map(Number))
    : flags.text
      ? rangesFrom([0, k, 512, 1024, 1536, context], context)
      : positions > 320
        ? [
            [0, 320],
            [320, positions],
          ]
        : [[0, positions]];
  log(
    `agreement: ${sequences.length} × ${context} teacher-forced positions, ${greedy} greedy tokens, ${threads} threads`,
  );
  const logitsFile = path.join(tmp, 'llama-logits.f32');
  const [theirs] = peer({ ...common, task: 'logits', sequences, logitsFile, greedy });
  const theirLogits = new Float32Array(fs.readFileSync(logitsFile).buffer.slice(0));
  fs.rmSync(logitsFile);
  // --ours gguf: our engine on the same GGUF as llama.cpp (identical weights), else on the checkpoint.
  const fromCheckpoint = await ours(flags.ours === 'gguf' ? gguf : flags.model, sequences, greedy);
  const base = {
    backend: fromCheckpoint.backend,
    device: fromCheckpoint.device,
    preset,
    dtype: flags.type,
    batch: 1,
    depth: 0,
    threads,
    ...(flags.text ? { text: flags.text, context, windows_of_text: sequences.length } : {}),
  };
  const perplexities = (logits) =>
    flags.text
      ? {
          ppl: perplexity(logits, fromCheckpoint.vocab, ids, context),
          ...(k > 0 && k < context - 1
            ? { [`ppl_from_${k}`]: perplexity(logits, fromCheckpoint.vocab, ids, context, k) }
            : {}),
        }
      : {};
  const versus = compareLogits(fromCheckpoint.logits, theirLogits, theirs.vocab, positions, context, windows);
  emit({
    ...base,
    engine: `node-llama-cpp vs dsa (${flags.ours === 'gguf' ? 'GGUF import' : 'checkpoint'})`,
    flash_attention: common.flashAttention,
    kv: common.kv,
    max_abs_diff: versus.max_abs_diff,
    median_abs_diff: versus.median_abs_diff,
    top1_agree: versus.top1_agree,
    n_positions: positions,
    first_position_over_1e_4: versus.firstDiffOver(1e-4),
    windows: versus.windows,
    disagreements: versus.disagreements.length,
    ...(flags.text
      ? {
          dsa: perplexities(fromCheckpoint.logits),
          llama_cpp: perplexities(theirLogits),
        }
      : {}),
    greedy_dsa: fromCheckpoint.greedy,
    greedy_llama_cpp: theirs.greedy,
    greedy_agree: fromCheckpoint.greedy.every((t, i) => t === theirs.greedy[i]),
  });
  if (flags.out) {
    fs.mkdirSync(flags.out, { recursive: true });
    fs.writeFileSync(path.join(flags.out, 'ids.json'), JSON.stringify(sequences));
    fs.writeFileSync(
      path.join(flags.out, 'disagreements.json'),
      JSON.stringify(
        versus.disagreements.map((d) => ({ ...d, dsa_top1: d.top1_a, llama_cpp_top1: d.top1_b })),
        null,
        1,
      ),
    );
  }
  for (const d of versus.disagreements.slice(0, 40)) {
    log(
      `  top-1 differs: window ${d.sequence} position ${d.position}: dsa ${d.top1_a} (margin ${d.margin_a.toExponential(2)}), llama.cpp ${d.top1_b} (margin ${d.margin_b.toExponential(2)}), max |Δ| ${d.max_abs_diff.toExponential(2)}`,
    );
  }
  if (flags.self === 'on' && flags.ours === 'checkpoint') {
    const fromGguf = await ours(gguf, sequences, greedy);
    const self = compareLogits(
      fromCheckpoint.logits,
      fromGguf.logits,
      fromCheckpoint.vocab,
      positions,
      context,
      windows,
    );
    emit({
      ...base,
      engine: 'dsa (GGUF export) vs dsa (checkpoint)',
      max_abs_diff: self.max_abs_diff,
      median_abs_diff: self.median_abs_diff,
      top1_agree: self.top1_agree,
      n_positions: positions,
      ...(flags.text ? { dsa_gguf: perplexities(fromGguf.logits) } : {}),
      greedy_agree: fromCheckpoint.greedy.every((t, i) => t === fromGguf.greedy[i]),
    });
  }
}

if (parts.has('speed')) {
  const depths = flags.depths.split(',').map(Number);
  const batches = flags.batches.split(',').map(Number);
  const steps = Number(flags.steps);
  log(
    `speed: depths ${depths.join(', ')}, batches ${batches.join(', ')}, ${steps} decode steps, ${threads} threads`,
  );
  const config = JSON.parse(fs.readFileSync(path.join(flags.model, 'config.json'), 'utf8'));
  // llama.cpp's weight bytes per decode token, from the GGUF's tensor table (gguf-traffic.mjs); its roofline
  // fraction is taken against the read probe of our bench in the same run (rows of the same depth).
  const peerBytes = engines.has('llama.cpp') ? Math.round(await ggufDecodeBytes(gguf, config)) : null;
  if (engines.has('llama.cpp')) {
    for (const row of peer({
      ...common,
      task: 'speed',
      depths,
      batches,
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
        // One token's weights: batch 1's bytes per token only.
        ...(row.batch === 1 ? { bytes_per_token: peerBytes } : {}),
      });
    }
  }
  if (engines.has('dsa')) {
    const benched = flags.ours === 'gguf' ? gguf : flags.model;
    const bench = spawnSync(
      process.execPath,
      [
        path.join(REPO, 'apps/cli/dist/bin.js'),
        'bench',
        '--model',
        benched,
        '--backend',
        flags.backend,
        '--depth',
        depths.join(','),
        '--batch',
        batches.join(','),
        // Several batches: their steps in turns (as the worker does for llama.cpp), so their ratios hold.
        ...(batches.length > 1 ? ['--interleave'] : []),
        '--cache',
        'prefill',
        '--indexer',
        flags.indexer,
        '--repeat',
        String(steps),
        '--json',
      ],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          DSA_CONFIG: writeConfig({ backend: flags.backend, threads }),
          ...(flags.precision ? { DSA_CPU_PRECISION: flags.precision } : {}),
        },
        maxBuffer: 1 << 26,
      },
    );
    if (bench.status !== 0) throw new Error(`dsa bench failed:\n${bench.stderr}`);
    for (const line of bench.stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))) {
      const row = JSON.parse(line);
      // Like for like with llama.cpp's prefill of `depth` tokens in 512-token batches: our fill of the same
      // depth in 512-token chunks. dsa bench's own pp (--prompt tokens from position 0) stays as pp512_tok_s.
      emit({
        engine: 'dsa',
        threads,
        ...row,
        dtype: flags.ours === 'gguf' ? `${flags.type} (GGUF import)` : row.dtype,
        pp_tok_s: row.fill_tok_s,
        pp512_tok_s: row.pp_tok_s,
        preset,
        ...(flags.precision ? { precision: flags.precision } : {}),
      });
    }
  }
}

// Table and plot.
const speed = results.filter((r) => r.tg_ms_median !== undefined);
for (const r of speed.filter((row) => row.engine === 'node-llama-cpp' && row.bytes_per_token)) {
  const ours = speed.find(
    (row) => row.engine === 'dsa' && row.depth === r.depth && row.batch === r.batch && row.bandwidth_gbs,
  );
  if (!ours) continue;
  r.bandwidth_gbs = ours.bandwidth_gbs;
  r.roofline_fraction = r.bytes_per_token / (r.tg_ms_median / 1000) / 1e9 / ours.bandwidth_gbs;
  r.roofline_basis = ours.roofline_basis;
}
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
  log(
    `${'engine'.padEnd(36)}${'depth'.padStart(8)}${'batch'.padStart(7)}${'pp tok/s'.padStart(12)}${'tg ms'.padStart(10)}${'tg tok/s'.padStart(10)}${'× batch 1'.padStart(11)}${'GB/token'.padStart(10)}${'roofline'.padStart(10)}`,
  );
  const tokS = (r) => r.tg_tok_s ?? (1000 * r.batch) / r.tg_ms_median;
  for (const r of speed) {
    const gb = r.bytes_per_token ? (r.bytes_per_token / 1e9).toFixed(2) : '';
    const roof = r.roofline_fraction ? r.roofline_fraction.toFixed(2) : '';
    // Batch decode throughput against the same engine's batch 1 at that depth.
    const one = speed.find(
      (o) => o.engine === r.engine && o.dtype === r.dtype && o.depth === r.depth && o.batch === 1,
    );
    const ratio = one && r.batch !== 1 ? `${(tokS(r) / tokS(one)).toFixed(2)}×` : '';
    log(
      `${`${r.engine} ${r.dtype}`.padEnd(36)}${String(r.depth).padStart(8)}${String(r.batch).padStart(7)}${r.pp_tok_s.toFixed(1).padStart(12)}${r.tg_ms_median.toFixed(2).padStart(10)}${tokS(r).toFixed(1).padStart(10)}${ratio.padStart(11)}${gb.padStart(10)}${roof.padStart(10)}`,
    );
  }
}
if (flags.out) {
  fs.mkdirSync(flags.out, { recursive: true });
  const file = path.join(flags.out, 'results.jsonl');
  const earlier =
    flags.append && fs.existsSync(file)
      ? fs
          .readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l))
      : [];
  const all = [...earlier, ...results];
  fs.writeFileSync(file, `${all.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const allSpeed = all.filter((r) => r.tg_ms_median !== undefined);
  if (allSpeed.length > 0) fs.writeFileSync(path.join(flags.out, 'decode.svg'), peerPlot(allSpeed));
  log(`wrote ${file}${allSpeed.length > 0 ? ' and decode.svg' : ''}`);
}
fs.rmSync(tmp, { recursive: true, force: true });
