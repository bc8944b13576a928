import { writeSafetensors } from '@dsa/runtime';
import { loadModel, type ModelFlags } from '../load-model.js';
import { parseIds } from '../usage-error.js';

/** `dsa forward`: logits for every position (and the indexer's selections) into a safetensors file. */
export async function forwardCommand(flags: ModelFlags & { ids: string; out: string }): Promise<void> {
  const ids = parseIds(flags.ids);
  const { backend, model } = await loadModel(flags);
  try {
    const { vocabSize, nLayers } = model.config;
    if (ids.some((id) => id >= vocabSize)) {
      throw new RangeError(
        `--ids: token id ${ids.find((id) => id >= vocabSize)} is outside the vocabulary of ${vocabSize}`,
      );
    }
    const sequence = model.cache.createSequence();
    const started = performance.now();
    const result = await model.forward([{ sequence, tokens: ids }], { logits: 'all', captureTopk: true });
    const logits = new Float32Array(ids.length * vocabSize);
    await backend.download(result.logits, logits);
    const seconds = (performance.now() - started) / 1000;
    model.cache.release(sequence);
    const tensors: { name: string; dtype: 'f32' | 'i32'; shape: number[]; data: ArrayBufferView }[] = [
      { name: 'logits', dtype: 'f32', shape: [ids.length, vocabSize], data: logits },
    ];
    if (result.topk && model.config.indexer && model.attention === 'sparse') {
      const k = model.selection.indexTopk;
      const width = Math.min(k, ids.length);
      const selected = new Int32Array(nLayers * ids.length * width);
      for (let row = 0; row < nLayers * ids.length; row++) {
        selected.set(result.topk.subarray(row * k, row * k + width), row * width);
      }
      tensors.push({
        name: 'topk_indices',
        dtype: 'i32',
        shape: [nLayers, ids.length, width],
        data: selected,
      });
    }
    await writeSafetensors(flags.out, tensors, { producer: 'dsa forward', backend: backend.name });
    if (!flags.quiet) {
      process.stderr.write(
        `forward of ${ids.length} tokens: ${seconds.toFixed(3)} s; wrote ${tensors.map((t) => t.name).join(', ')} to ${flags.out}\n`,
      );
    }
  } finally {
    model.dispose();
    backend.dispose();
  }
}
