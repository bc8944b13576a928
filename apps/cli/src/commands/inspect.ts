import { listBackends } from '@dsa/backend';
import {
  Checkpoint,
  GgufCheckpoint,
  isGgufPath,
  latentRowBytes,
  parseModelConfig,
  summarizeModel,
} from '@dsa/runtime';

const GB = 1e9;

/** `dsa inspect`: architecture, parameter counts, dtypes, cache bytes per token and memory needed, from headers only. */
export async function inspectCommand(flags: {
  model?: string;
  backends?: boolean;
  json?: boolean;
}): Promise<void> {
  const report: Record<string, unknown> = {};
  if (flags.backends) {
    report.backends = await listBackends();
  }
  if (flags.model) {
    const checkpoint = isGgufPath(flags.model)
      ? await GgufCheckpoint.open(flags.model)
      : await Checkpoint.open(flags.model);
    try {
      const config =
        checkpoint instanceof GgufCheckpoint
          ? checkpoint.config
          : parseModelConfig(await checkpoint.readJson('config.json'), `${flags.model}/config.json`);
      const summary = summarizeModel(config, { latentCache: 'f32' });
      // Latent bytes per token over all layers in the bf16 and fp8 (656-byte) layouts; null where the
      // config cannot use fp8 rows (kv_lora_rank not a multiple of 4, odd qk_rope_head_dim).
      const latentBytes = (format: 'bf16' | 'fp8') => {
        try {
          return latentRowBytes(format, config.kvLoraRank, config.qkRopeHeadDim) * config.nLayers;
        } catch {
          return null;
        }
      };
      const dtypes: Record<string, { tensors: number; bytes: number }> = {};
      let skipped = 0;
      // A GGUF file reports its GGML types (Q8_0, Q4_K, ...) as stored, not as loaded.
      const stored =
        checkpoint instanceof GgufCheckpoint
          ? [...checkpoint.file.tensors.values()].map((t) => ({
              layer: /^blk\.(\d+)\./.exec(t.name)?.[1],
              dtype: t.type.name,
              bytes: t.byteLength,
            }))
          : checkpoint.names().map((name) => ({
              layer: /^model\.layers\.(\d+)\./.exec(name)?.[1],
              dtype: checkpoint.info(name).dtype as string,
              bytes: checkpoint.info(name).byteLength,
            }));
      for (const t of stored) {
        if (t.layer !== undefined && Number(t.layer) >= config.nLayers) {
          skipped++;
          continue;
        }
        dtypes[t.dtype] ??= { tensors: 0, bytes: 0 };
        const entry = dtypes[t.dtype]!;
        entry.tensors++;
        entry.bytes += t.bytes;
      }
      const weightBytes = Object.values(dtypes).reduce((a, b) => a + b.bytes, 0);
      const perToken = summary.latentCacheBytesPerToken + summary.indexerCacheBytesPerToken;
      const context = Math.min(config.maxPositionEmbeddings, 131072);
      report.model = {
        folder: flags.model,
        model_type: config.modelType,
        layers: config.nLayers,
        dense_layers: config.denseLayers.filter(Boolean).length,
        hidden: config.dim,
        heads: config.nHeads,
        q_lora_rank: config.qLoraRank,
        kv_lora_rank: config.kvLoraRank,
        qk_nope_head_dim: config.qkNopeHeadDim,
        qk_rope_head_dim: config.qkRopeHeadDim,
        v_head_dim: config.vHeadDim,
        experts: {
          routed: config.nRoutedExperts,
          active: config.nActivatedExperts,
          shared: config.nSharedExperts,
          groups: config.nGroup,
          kept_groups: config.topkGroup,
          moe_width: config.moeInterDim,
        },
        indexer: config.indexer,
        rope: config.rope,
        vocab: config.vocabSize,
        max_positions: config.maxPositionEmbeddings,
        quantization: config.quantization,
        params_total: summary.paramsTotal,
        params_active_per_token: summary.paramsActive,
        params_by_component: summary.breakdown,
        dtypes,
        mtp_tensors_skipped: skipped,
        weight_bytes: weightBytes,
        kv_cache_bytes_per_token: {
          latent_f32: summary.latentCacheBytesPerToken,
          latent_bf16: latentBytes('bf16'),
          latent_fp8: latentBytes('fp8'),
          indexer_fp32: summary.indexerCacheBytesPerToken,
        },
        memory_needed_bytes: { context, total: weightBytes + perToken * context },
      };
    } finally {
      await checkpoint.close();
    }
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const lines: string[] = [];
  if (report.backends) {
    lines.push('backends:');
    for (const b of report.backends as {
      name: string;
      installed: boolean;
      score: number;
      reason: string;
    }[]) {
      lines.push(`  ${b.name.padEnd(10)} ${b.installed ? `score ${b.score}` : 'not installed'}  ${b.reason}`);
    }
  }
  const m = report.model as Record<string, any> | undefined;
  if (m) {
    const fmt = (n: number) =>
      n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${n}`;
    lines.push(
      `model ${m.folder} (${m.model_type})`,
      `  layers ${m.layers} (${m.dense_layers} dense), hidden ${m.hidden}, vocab ${m.vocab}, max positions ${m.max_positions}`,
      `  MLA: ${m.heads} heads, q_lora ${m.q_lora_rank}, kv_lora ${m.kv_lora_rank}, nope ${m.qk_nope_head_dim}, rope ${m.qk_rope_head_dim}, v ${m.v_head_dim}`,
      `  MoE: ${m.experts.routed} routed experts (${m.experts.active} active, ${m.experts.groups} groups, ${m.experts.kept_groups} kept), ${m.experts.shared} shared, width ${m.experts.moe_width}`,
      `  indexer: ${m.indexer ? `${m.indexer.indexNHeads} heads x ${m.indexer.indexHeadDim}, top-k ${m.indexer.indexTopk}` : 'none (dense MLA)'}`,
      `  RoPE: ${m.rope.type}, theta ${m.rope.theta}${m.rope.type === 'yarn' ? `, factor ${m.rope.factor} over ${m.rope.originalMaxPositionEmbeddings}` : ''}`,
      `  parameters: ${fmt(m.params_total)} total, ${fmt(m.params_active_per_token)} active per token`,
      `  dtypes: ${Object.entries(m.dtypes as Record<string, { tensors: number; bytes: number }>)
        .map(([d, v]) => `${d} ${v.tensors} tensors ${(v.bytes / GB).toFixed(3)} GB`)
        .join(', ')}${m.mtp_tensors_skipped ? ` (${m.mtp_tensors_skipped} MTP tensors skipped)` : ''}`,
      `  KV cache per token: latent ${m.kv_cache_bytes_per_token.latent_f32} B (f32; ${m.kv_cache_bytes_per_token.latent_bf16} B bf16, ${m.kv_cache_bytes_per_token.latent_fp8 ?? '-'} B fp8), indexer ${m.kv_cache_bytes_per_token.indexer_fp32} B (fp32 keys)`,
      `  memory needed: ${(m.weight_bytes / GB).toFixed(3)} GB weights + cache at ${m.memory_needed_bytes.context} tokens = ${(m.memory_needed_bytes.total / GB).toFixed(3)} GB`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
