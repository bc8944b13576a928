import { statSync } from 'node:fs';
import { convertToGguf, GGUF_OUTPUT_TYPES } from '@dsa/runtime';
import cliProgress from 'cli-progress';
import { parseChoice, UsageError } from '../usage-error.js';

/** `dsa convert`: a checkpoint folder → a GGUF file llama.cpp loads as deepseek32 / deepseek2. */
export async function convertCommand(flags: {
  model: string;
  to: string;
  type: string;
  tokenizer?: string;
  name?: string;
  quiet?: boolean;
}): Promise<void> {
  const type = parseChoice(flags.type, '--type', GGUF_OUTPUT_TYPES);
  if (!flags.to.toLowerCase().endsWith('.gguf')) {
    throw new UsageError(`--to: "${flags.to}" must name a .gguf file`);
  }
  let isDirectory = false;
  try {
    isDirectory = statSync(flags.to).isDirectory();
  } catch {}
  if (isDirectory) throw new UsageError(`--to: "${flags.to}" is a folder; give a .gguf file name`);
  const log = flags.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
  const bar = flags.quiet
    ? null
    : new cliProgress.SingleBar(
        {
          format: 'converting |{bar}| {percentage}% {value}/{total} MB | {tensors} tensors | {tensor}',
          stream: process.stderr,
          hideCursor: true,
          noTTYOutput: true,
          notTTYSchedule: 2000,
        },
        cliProgress.Presets.shades_classic,
      );
  const started = performance.now();
  let barStarted = false;
  const mb = (b: number) => Math.round(b / 1e6);
  try {
    const summary = await convertToGguf(flags.model, flags.to, {
      type,
      ...(flags.tokenizer !== undefined ? { tokenizerDir: flags.tokenizer } : {}),
      ...(flags.name !== undefined ? { name: flags.name } : {}),
      log,
      onProgress: (p) => {
        if (!bar) return;
        const payload = { tensors: `${p.tensorsDone}/${p.tensorsTotal}`, tensor: p.name };
        if (!barStarted) {
          bar.start(Math.max(1, mb(p.bytesTotal)), 0, payload);
          barStarted = true;
        }
        bar.update(mb(p.bytesDone), payload);
      },
    });
    bar?.stop();
    const types = Object.entries(summary.types)
      .map(([t, n]) => `${n} ${t}`)
      .join(', ');
    log(
      `wrote ${flags.to}: ${summary.architecture}, ${summary.tensors} tensors (${types}), ` +
        `${(summary.bytes / 1e6).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  } catch (error) {
    bar?.stop();
    throw error;
  }
}
