import readline from 'node:readline';
import { styleText } from 'node:util';
import {
  type ChatMessage,
  ChatOutput,
  Engine,
  renderChatPrompt,
  type ThinkingMode,
  Tokenizer,
} from '@dsa/runtime';
import { loadModel, type ModelFlags } from '../load-model.js';

/** Flags of `dsa chat`. */
export interface ChatFlags extends ModelFlags {
  readonly system?: string;
  readonly think?: boolean;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly topP?: number;
  readonly seed?: number;
}

const HELP =
  'commands: /reset (new conversation), /system TEXT (set the system prompt), /think on|off, /exit; Ctrl-C stops an answer';

/**
 * `dsa chat`: an interactive conversation with streamed answers; thinking is shown dimmed. Ctrl-C stops the
 * answer being written without leaving; Ctrl-C at the prompt (or /exit, or end of input) leaves.
 */
export async function chatCommand(flags: ChatFlags): Promise<void> {
  const tokenizer = await Tokenizer.fromModel(flags.model);
  const { backend, model } = await loadModel({ ...flags, quiet: flags.quiet ?? false });
  const engine = new Engine(model, { tokenizer });
  const color = process.stdout.isTTY;
  const dim = (text: string) => (color ? styleText('dim', text) : text);
  let system = flags.system ?? '';
  let thinking: ThinkingMode = flags.think ? 'thinking' : 'chat';
  let history: ChatMessage[] = [];
  let answering: AbortController | null = null;
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: process.stdin.isTTY,
  });
  // Lines typed (or piped) while an answer is being written wait here until the next prompt.
  const lines: string[] = [];
  let waiter: ((line: string | null) => void) | null = null;
  let closed = false;
  rl.on('line', (line) => {
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(line);
    } else lines.push(line);
  });
  rl.on('close', () => {
    closed = true;
    waiter?.(null);
    waiter = null;
  });
  rl.on('SIGINT', () => {
    if (answering) answering.abort();
    else rl.close();
  });
  if (!flags.quiet) process.stdout.write(`${dim(HELP)}\n`);
  const prompt = () =>
    new Promise<string | null>((resolve) => {
      if (lines.length) return resolve(lines.shift()!);
      if (closed) return resolve(null);
      if (process.stdin.isTTY) process.stdout.write('> ');
      waiter = resolve;
    });
  try {
    while (true) {
      const line = await prompt();
      if (line === null) break;
      const text = line.trim();
      if (!text) continue;
      if (text === '/exit' || text === '/quit') break;
      if (text === '/reset') {
        history = [];
        process.stdout.write(`${dim('(new conversation)')}\n`);
        continue;
      }
      if (text.startsWith('/system')) {
        system = text.slice('/system'.length).trim();
        history = [];
        process.stdout.write(`${dim(`(system prompt set; new conversation)`)}\n`);
        continue;
      }
      if (text.startsWith('/think')) {
        thinking = /off/.test(text) ? 'chat' : 'thinking';
        process.stdout.write(`${dim(`(thinking ${thinking === 'thinking' ? 'on' : 'off'})`)}\n`);
        continue;
      }
      if (text.startsWith('/')) {
        process.stdout.write(`${dim(HELP)}\n`);
        continue;
      }
      history.push({ role: 'user', content: text });
      const messages: ChatMessage[] = system ? [{ role: 'system', content: system }, ...history] : history;
      const ids = tokenizer.encode(renderChatPrompt(tokenizer, messages, { thinking }));
      answering = new AbortController();
      const output = new ChatOutput(thinking);
      let content = '';
      const show = (deltas: ReturnType<ChatOutput['push']>) => {
        for (const d of deltas) {
          if (d.kind === 'tool_call')
            process.stdout.write(
              dim(`\n[tool call] ${d.toolCall.function.name}(${d.toolCall.function.arguments})\n`),
            );
          else if (d.kind === 'reasoning_content') process.stdout.write(dim(d.text));
          else {
            content += d.text;
            process.stdout.write(d.text);
          }
        }
      };
      try {
        const room = Math.max(
          1,
          Math.min(
            flags.maxTokens,
            model.cache.capacityTokens - ids.length,
            model.config.maxPositionEmbeddings - ids.length,
          ),
        );
        for await (const event of engine.generate(
          {
            prompt: ids,
            maxTokens: room,
            sampling: {
              temperature: flags.temperature,
              ...(flags.topP !== undefined ? { topP: flags.topP } : {}),
              ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
            },
          },
          { signal: answering.signal },
        )) {
          show(output.push(event.text ?? ''));
          if (event.type === 'done') {
            show(output.finish());
            if (event.reason === 'cancelled') process.stdout.write(dim(' (stopped)'));
          }
        }
      } catch (error) {
        process.stdout.write(`\n${dim(`error: ${(error as Error).message}`)}`);
        history.pop();
      }
      answering = null;
      process.stdout.write('\n');
      history.push({ role: 'assistant', content });
    }
  } finally {
    rl.close();
    await engine.close();
    model.dispose();
    backend.dispose();
  }
}
