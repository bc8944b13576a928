import { type Backend, createBackend } from '@dsa/backend';
import {
  DeepseekModel,
  type LatentCacheFormat,
  type ModelOptions,
  parseTopkPolicy,
  type TopkPolicy,
} from '@dsa/runtime';
import cliProgress from 'cli-progress';
import { UsageError } from './usage-error.js';

/** Flags shared by the commands that load a model. */
export interface ModelFlags {
  readonly model: string;
  readonly backend?: string;
  readonly indexer?: 'fp32' | 'fp8';
  readonly attention?: 'sparse' | 'dense';
  readonly quiet?: boolean;
  readonly cacheTokens?: number;
  readonly kvCacheMemory?: number;
  /** Positions the indexer selects per query (overrides index_topk). */
  readonly indexTopk?: number;
  /** Adaptive top-k policy text (`fixed`, `mass:P`, `entropy:C`). */
  readonly topkPolicy?: string;
  /** How the MLA latent cache stores rows (`--latent-cache`; default: the runtime's, f32 or the backend's `exactLatentCache`). */
  readonly latentCache?: LatentCacheFormat;
  /** Workspace bytes one step may use (`--step-memory`; default: no limit). */
  readonly stepMemory?: number;
}

/** Creates the backend and loads the model, with a progress bar on stderr when it is a terminal. */
export async function loadModel(flags: ModelFlags): Promise<{ backend: Backend; model: DeepseekModel }> {
  const log = flags.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
  const backend = await createBackend({ ...(flags.backend ? { backend: flags.backend } : {}), log });
  log(`backend: ${backend.name} (${backend.device.description})`);
  const bar =
    !flags.quiet && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            format:
              'loading |{bar}| {percentage}% {value}/{total} MB | {tensors} tensors | {speed} MB/s | ETA {eta}s',
            stream: process.stderr,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  const started = performance.now();
  let barStarted = false;
  const options: ModelOptions = {
    ...(flags.indexer ? { indexer: flags.indexer } : {}),
    ...(flags.attention ? { attention: flags.attention } : {}),
    ...(flags.cacheTokens ? { cacheTokens: flags.cacheTokens } : {}),
    ...(flags.kvCacheMemory ? { kvCacheMemory: flags.kvCacheMemory } : {}),
    ...(flags.indexTopk ? { indexTopk: flags.indexTopk } : {}),
    ...(flags.topkPolicy ? { topkPolicy: policyFlag(flags.topkPolicy) } : {}),
    ...(flags.latentCache ? { latentCache: flags.latentCache } : {}),
    ...(flags.stepMemory ? { stepMemory: flags.stepMemory } : {}),
    log,
    onProgress: (p) => {
      if (!bar) return;
      const mb = (b: number) => Math.round(b / 1e6);
      const seconds = (performance.now() - started) / 1000;
      const payload = {
        tensors: `${p.tensorsDone}/${p.tensorsTotal}`,
        speed: (p.bytesDone / 1e6 / Math.max(seconds, 1e-3)).toFixed(0),
      };
      if (!barStarted) {
        bar.start(Math.max(1, mb(p.bytesTotal)), 0, payload);
        barStarted = true;
      }
      bar.update(mb(p.bytesDone), payload);
    },
  };
  try {
    const model = await DeepseekModel.load(backend, flags.model, options);
    bar?.stop();
    log(`loaded ${flags.model} in ${((performance.now() - started) / 1000).toFixed(2)} s`);
    return { backend, model };
  } catch (error) {
    bar?.stop();
    backend.dispose();
    throw error;
  }
}

/** Parses `--topk-policy` as a usage error (exit code 2) when it is wrong. */
export function policyFlag(text: string, flag = '--topk-policy'): TopkPolicy {
  try {
    return parseTopkPolicy(text);
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message}`);
  }
}
