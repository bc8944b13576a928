import path from 'node:path';
import { Engine, Tokenizer } from '@dsa/runtime';
import { createServer } from '@dsa/server';
import { cliSetting } from '../cli-settings.js';
import { loadModel, type ModelFlags } from '../load-model.js';

/** Flags of `dsa serve`. */
export interface ServeFlags extends ModelFlags {
  readonly host: string;
  readonly port: number;
  readonly apiKey?: string;
  readonly servedModelName?: string;
  readonly maxBatchTokens?: number;
  readonly maxQueue?: number;
  readonly shutdownTimeout: number;
  readonly cors?: string;
  readonly bodyLimit?: number;
}

/**
 * `dsa serve`: the OpenAI-compatible server. SIGTERM/SIGINT stop accepting connections, let running
 * streams finish for up to `--shutdown-timeout` seconds, cancel the rest, and exit.
 */
export async function serveCommand(flags: ServeFlags): Promise<void> {
  const tokenizer = await Tokenizer.fromModel(flags.model);
  const { backend, model } = await loadModel(flags);
  const engine = new Engine(model, {
    tokenizer,
    ...(flags.maxBatchTokens ? { maxBatchTokens: flags.maxBatchTokens } : {}),
    ...(flags.maxQueue ? { maxQueue: flags.maxQueue } : {}),
  });
  const apiKey = flags.apiKey ?? cliSetting('apiKey');
  const app = createServer({
    engine,
    tokenizer,
    modelName: flags.servedModelName ?? path.basename(path.resolve(flags.model)),
    ...(apiKey ? { apiKey } : {}),
    ...(flags.cors ? { cors: flags.cors } : {}),
    ...(flags.bodyLimit ? { bodyLimit: flags.bodyLimit } : {}),
  });
  const address = await app.listen({ host: flags.host, port: flags.port });
  process.stderr.write(
    `dsa serve: ${address}/v1 (model "${flags.servedModelName ?? path.basename(path.resolve(flags.model))}", backend ${backend.name})${apiKey ? ', API key required' : ''}\n`,
  );
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(
        `dsa serve: ${signal}: no new connections; finishing ${engine.stats().running} running requests\n`,
      );
      const closing = app.close();
      const timer = setTimeout(() => void engine.close(), flags.shutdownTimeout * 1000);
      await closing;
      clearTimeout(timer);
      await engine.close();
      model.dispose();
      backend.dispose();
      resolve();
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });
}
