// The node-llama-cpp side of tools/peers/llama-cpp.mjs, run as a child process (a GGML_ASSERT in llama.cpp
// aborts the process; the parent reports it instead of dying). One JSON request in argv[2]; results as JSON
// on stdout (one line), logits as raw little-endian f32 into request.logitsFile.
//   {"task":"logits","gguf":F,"sequences":[[...],...],"threads":2,"flashAttention":false,"kv":"F32","logitsFile":F,"greedy":N}
//     (each sequence on a fresh context; logits of all sequences back to back; greedy continues the last one)
//   {"task":"tokenize","gguf":F,"textFile":F,"idsFile":F} (ids as a JSON array into idsFile, special tokens as text)
//   {"task":"speed","gguf":F,"depths":[1024],"steps":16,"threads":2,"flashAttention":false,"kv":"F32","seed":1,
//    "batches":[1,8]} (a batch of B: B sequences of one context, each filled to the depth on its own, then each
//    step one token of every sequence, evaluated together as one llama.cpp batch; several batches of a depth
//    take turns of 4 timed steps, each after one untimed step, as `dsa bench --interleave`)
import fs from 'node:fs';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const request = JSON.parse(process.argv[2]);
const llama = await getLlama({
  gpu: false,
  build: 'never',
  logLevel: LlamaLogLevel.error,
  maxThreads: request.threads,
});
const model = await llama.loadModel({ modelPath: request.gguf, gpuLayers: 0 });

async function newContext(size, sequences = 1) {
  return model.createContext({
    contextSize: size, // per sequence
    sequences,
    batchSize: Math.min(size, 512),
    flashAttention: request.flashAttention,
    threads: { ideal: request.threads, min: request.threads },
    experimentalKvCacheKeyType: request.kv,
    experimentalKvCacheValueType: request.kv,
  });
}

/** Logits Map → dense Float32Array [V]. */
function dense(map, width) {
  const row = new Float32Array(width);
  for (const [token, value] of map) row[token] = value;
  return row;
}

function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

if (request.task === 'logits') {
  const sequences = request.sequences;
  const greedyCount = request.greedy ?? 0;
  const started = performance.now();
  const fd = fs.openSync(request.logitsFile, 'w');
  let n = 0;
  let last = null;
  let context = null;
  let sequence = null;
  for (const [index, ids] of sequences.entries()) {
    const lastOne = index === sequences.length - 1;
    context = await newContext(ids.length + (lastOne ? greedyCount : 0) + 8);
    sequence = context.getSequence();
    // In chunks, so only one chunk's logits Maps (a full vocabulary each) are alive at a time.
    for (let from = 0; from < ids.length; from += 128) {
      const chunk = ids.slice(from, from + 128);
      const out = await sequence.controlledEvaluate(
        chunk.map((t) => [t, { generateNext: { logits: true } }]),
      );
      n = out[0].next.logits.size; // every vocabulary entry
      for (const item of out) {
        last = dense(item.next.logits, n);
        fs.writeSync(fd, new Uint8Array(last.buffer));
      }
    }
    if (!lastOne) await context.dispose();
  }
  fs.closeSync(fd);
  const seconds = (performance.now() - started) / 1000;
  // Greedy continuation of the last sequence, one token at a time.
  const greedy = [];
  for (let i = 0; i < greedyCount; i++) {
    const token = argmax(last);
    greedy.push(token);
    const [step] = await sequence.controlledEvaluate([[token, { generateNext: { logits: true } }]]);
    last = dense(step.next.logits, n);
  }
  await context.dispose();
  const positions = sequences.reduce((sum, ids) => sum + ids.length, 0);
  process.stdout.write(`${JSON.stringify({ vocab: n, positions, seconds, greedy })}\n`);
} else if (request.task === 'tokenize') {
  const ids = model.tokenize(fs.readFileSync(request.textFile, 'utf8'), false);
  fs.writeFileSync(request.idsFile, JSON.stringify(Array.from(ids)));
  process.stdout.write(`${JSON.stringify({ count: ids.length })}\n`);
} else if (request.task === 'speed') {
  let state = request.seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % request.idRange;
  };
  // Timed steps per batch per turn when several batches share a depth (as `dsa bench --interleave`).
  const TURN = 4;
  for (const depth of request.depths) {
    const runs = [];
    for (const batch of request.batches ?? [1]) {
      // Room for the timed steps, one untimed step per turn and the warm-up.
      const context = await newContext(depth + request.steps + Math.ceil(request.steps / TURN) + 8, batch);
      const sequences = Array.from({ length: batch }, () => context.getSequence());
      // Each sequence filled on its own (its own random prompt); the prefill figure is the first one's.
      let prefill = 0;
      for (const [index, sequence] of sequences.entries()) {
        const prompt = Array.from({ length: depth }, random);
        const started = performance.now();
        await sequence.controlledEvaluate([
          ...prompt.slice(0, -1),
          [prompt.at(-1), { generateNext: { token: true } }],
        ]);
        if (index === 0) prefill = (performance.now() - started) / 1000;
      }
      // One token of every sequence, queued in the same tick: node-llama-cpp dispatches them as one batch.
      const step = () =>
        Promise.all(
          sequences.map((sequence) =>
            sequence.controlledEvaluate([[random(), { generateNext: { token: true } }]]),
          ),
        );
      await step(); // warm-up, untimed
      runs.push({ batch, context, prefill, step, times: [] });
    }
    // Turns of TURN timed steps per batch, each after one untimed step, the order flipped every turn: a shared
    // machine's slow phases fall on every batch alike (one batch alone equals the plain loop).
    for (let turn = 0; turn * TURN < request.steps; turn++) {
      for (const run of turn % 2 === 0 ? runs : [...runs].reverse()) {
        if (runs.length > 1) await run.step();
        for (let i = 0; i < Math.min(TURN, request.steps - turn * TURN); i++) {
          const started = performance.now();
          await run.step();
          run.times.push(performance.now() - started);
        }
      }
    }
    for (const { batch, context, prefill, times } of runs) {
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)];
      process.stdout.write(
        `${JSON.stringify({
          depth,
          batch,
          pp_tok_s: depth / prefill,
          tg_ms_median: median,
          tg_ms_min: times[0],
          tg_ms_max: times.at(-1),
          tg_tok_s: (1000 * batch) / median,
        })}\n`,
      );
      await context.dispose();
    }
  }
} else {
  throw new Error(`unknown task ${request.task}`);
}
await model.dispose();
await llama.dispose();
