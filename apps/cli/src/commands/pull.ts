import cliProgress from 'cli-progress';
import { requireModelRef } from '../hub/model-ref.js';
import { type PullResult, pullModel } from '../hub/pull.js';

/** Flags of `dsa pull`. */
export interface PullFlags {
  /** Glob patterns of repository paths to fetch. */
  readonly include?: readonly string[];
  readonly quiet?: boolean;
  readonly json?: boolean;
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

/**
 * `dsa pull ORG/NAME[@REVISION]`: downloads a model repository into the Hugging Face cache, with a
 * progress bar on a terminal (one line per file otherwise), resume, and checksum checks; prints the
 * snapshot folder, which `--model ORG/NAME` then resolves to.
 */
export async function pullCommand(name: string, flags: PullFlags): Promise<PullResult> {
  const ref = requireModelRef(name);
  const log = flags.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
  const bar =
    !flags.quiet && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            format: '{file} |{bar}| {percentage}% {done}/{size} MB | {speed} MB/s | ETA {eta_formatted}',
            stream: process.stderr,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  let barStarted = false;
  const started = performance.now();
  let result: PullResult;
  try {
    result = await pullModel({
      ref,
      ...(flags.include ? { include: flags.include } : {}),
      onProgress: (p) => {
        const payload = {
          file: p.file,
          done: mb(p.bytes),
          size: mb(p.totalBytes),
          speed: mb(p.bytes / Math.max((performance.now() - started) / 1000, 1e-3)),
        };
        if (bar) {
          if (!barStarted) bar.start(Math.max(1, p.totalBytes), 0, payload);
          barStarted = true;
          bar.update(p.bytes, payload);
        }
        if (!bar && p.state !== 'downloading')
          log(`${p.state === 'cached' ? 'cached' : 'fetched'} ${p.file} (${mb(p.fileSize)} MB)`);
      },
    });
  } finally {
    bar?.stop();
  }
  const fetched = result.files.filter((f) => !f.cached).length;
  log(
    `${ref.repo}@${ref.revision} = ${result.commit}: ${fetched} file(s) fetched, ${result.files.length - fetched} already cached`,
  );
  process.stdout.write(
    flags.json
      ? `${JSON.stringify({ snapshot: result.snapshot, commit: result.commit, files: result.files })}\n`
      : `${result.snapshot}\n`,
  );
  return result;
}
