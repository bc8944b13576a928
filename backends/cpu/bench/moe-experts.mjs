// Decode ms/token and CPU ms/token of a preset checkpoint with the fused moeExperts and with its
// composite fallback (the same backend with `fused.moeExperts` hidden), alternating runs.
// Usage: node backends/cpu/bench/moe-experts.mjs <checkpoint dir> [threads] [tokens] [rounds]
// (e.g. the folder `dsa bench --preset small --dtype bf16` generates: $TMPDIR/dsa-bench-small-bf16).
import { CpuBackend, loadNative } from '@dsa/backend-cpu';
import { DeepseekModel } from '@dsa/runtime';

const [dir, threads = '1', tokens = '24', rounds = '3'] = process.argv.slice(2);
if (!dir) throw new Error('usage: moe-experts.mjs <checkpoint dir> [threads] [tokens] [rounds]');
const native = loadNative();
if ('error' in native) throw native.error;
const cpu = new CpuBackend(native.addon, { threads: Number(threads) });
const composite = Object.create(cpu, {
  fused: { value: Object.fromEntries(Object.entries(cpu.fused).filter(([name]) => name !== 'moeExperts')) },
});

async function decode(backend) {
  const model = await DeepseekModel.load(backend, dir, { cacheTokens: 1024 });
  const vocab = model.config.vocabSize;
  const logits = new Float32Array(vocab);
  const sequence = model.cache.createSequence();
  const step = async (tokens) => {
    const result = await model.forward([{ sequence, tokens }]);
    await backend.download(result.logits, logits);
  };
  await step(Array.from({ length: 64 }, (_, i) => (i * 7 + 3) % vocab));
  await step([1]); // warm-up
  const times = [];
  const cpuStart = process.cpuUsage();
  for (let t = 0; t < Number(tokens); t++) {
    const started = performance.now();
    await step([(t * 31 + 5) % vocab]);
    times.push(performance.now() - started);
  }
  const used = process.cpuUsage(cpuStart);
  model.dispose();
  times.sort((a, b) => a - b);
  return {
    median: times[times.length >> 1],
    min: times[0],
    cpu: (used.user + used.system) / 1000 / Number(tokens),
    logits: logits.slice(0, 8),
  };
}

for (let round = 0; round < Number(rounds); round++) {
  for (const [label, backend] of [
    ['composite', composite],
    ['fused', cpu],
  ]) {
    const r = await decode(backend);
    console.log(
      `${label.padEnd(9)} threads ${threads}: decode median ${r.median.toFixed(2)} ms, min ${r.min.toFixed(2)} ms, CPU ${r.cpu.toFixed(2)} ms/token`,
    );
  }
}
cpu.dispose();
