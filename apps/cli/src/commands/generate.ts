import { Engine, renderChatPrompt, Tokenizer } from '@dsa/runtime';
import { loadModel, type ModelFlags } from '../load-model.js';
import { parseIds, UsageError } from '../usage-error.js';

/** Flags of `dsa generate`. */
export interface GenerateFlags extends ModelFlags {
  readonly ids?: string;
  readonly prompt?: string;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly minP?: number;
  readonly seed?: number;
  readonly json?: boolean;
  readonly chat?: boolean;
}

/**
 * `dsa generate`: one request on an {@link Engine}: prefill, then cached decode one token at a time,
 * printed as it arrives (streamed text with --prompt, ids with --ids).
 */
export async function generateCommand(flags: GenerateFlags): Promise<void> {
  if ((flags.ids === undefined) === (flags.prompt === undefined)) {
    throw new UsageError('give exactly one of --ids or --prompt');
  }
  if (flags.chat && flags.prompt === undefined) throw new UsageError('--chat wraps --prompt: give --prompt');
  const tokenizer = flags.prompt !== undefined ? await Tokenizer.fromModel(flags.model) : null;
  const prompt = !tokenizer
    ? parseIds(flags.ids!)
    : flags.chat
      ? // the rendered conversation carries its own BOS
        tokenizer.encode(
          renderChatPrompt(tokenizer, [{ role: 'user', content: flags.prompt! }], { thinking: 'chat' }),
        )
      : tokenizer.encode(flags.prompt!, { addSpecialTokens: true });
  const { model, backend } = await loadModel(flags);
  const engine = new Engine(model, tokenizer ? { tokenizer } : {});
  try {
    const tokens: number[] = [];
    const started = performance.now();
    let firstTokenSeconds = 0;
    const events = engine.generate({
      prompt,
      maxTokens: flags.maxTokens,
      sampling: {
        temperature: flags.temperature,
        ...(flags.topK !== undefined ? { topK: flags.topK } : {}),
        ...(flags.topP !== undefined ? { topP: flags.topP } : {}),
        ...(flags.minP !== undefined ? { minP: flags.minP } : {}),
        seed: flags.seed ?? 0,
      },
    });
    for await (const event of events) {
      if (event.type === 'token') {
        if (tokens.length === 0) firstTokenSeconds = (performance.now() - started) / 1000;
        tokens.push(event.id);
      }
      if (!flags.json) process.stdout.write(event.text ?? (event.type === 'token' ? `${event.id} ` : ''));
    }
    const seconds = (performance.now() - started) / 1000;
    if (flags.json) process.stdout.write(`${JSON.stringify({ tokens })}\n`);
    else process.stdout.write('\n');
    if (!flags.quiet) {
      const decode = tokens.length > 1 ? (tokens.length - 1) / (seconds - firstTokenSeconds) : 0;
      process.stderr.write(
        `${prompt.length} prompt tokens, ${tokens.length} generated; first token ${(firstTokenSeconds * 1000).toFixed(0)} ms, decode ${decode.toFixed(2)} tok/s\n`,
      );
    }
  } finally {
    await engine.close();
    model.dispose();
    backend.dispose();
  }
}
