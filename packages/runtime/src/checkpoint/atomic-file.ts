import { rmSync } from 'node:fs';
import { type FileHandle, open as openFile, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';

/** Temporary files of writes still in flight, removed if the process exits or is interrupted. */
const pending = new Set<string>();
/** Signals after which an interrupted write removes its temporary file before the process dies. */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let exitHooked = false;

/** Removes every in-flight temporary file. Synchronous: async work does not run in 'exit' or a dying process. */
function removePending(): void {
  for (const file of pending) rmSync(file, { force: true });
  pending.clear();
}

/**
 * On a signal, removes the temporary files and then dies of that same signal (so the shell sees the
 * conventional status, 130 for SIGINT). When other code also listens for the signal (the server's graceful
 * shutdown, say), it owns the process's fate: we only remove our files and let it decide.
 */
function onSignal(signal: NodeJS.Signals): void {
  removePending();
  unhookSignals();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function hookSignals(): void {
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', removePending);
  }
  // Signal listeners are installed only while a write is in flight: a listener replaces Node's default exit.
  if (pending.size === 0) for (const signal of SIGNALS) process.on(signal, onSignal);
}

function unhookSignals(): void {
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/**
 * Writes a file atomically: `write` fills a temporary file in the same folder as `target`, which is
 * then fsynced and renamed over `target`. If `write` throws (or the disk fills, or the process exits
 * or is interrupted by SIGINT/SIGTERM/SIGHUP first), the temporary file is removed and any existing
 * `target` stays untouched, so a reader never sees a half-written file under the final name.
 *
 * @param target - the final path.
 * @param write - fills the open handle (positional writes are fine); its result is returned.
 */
export async function withAtomicFile<T>(
  target: string,
  write: (handle: FileHandle, temporaryPath: string) => Promise<T>,
): Promise<T> {
  const temporary = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`,
  );
  hookSignals();
  pending.add(temporary);
  try {
    const handle = await openFile(temporary, 'wx');
    let result: T;
    try {
      result = await write(handle, temporary);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
    return result;
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  } finally {
    pending.delete(temporary);
    if (pending.size === 0) unhookSignals();
  }
}

/** Writes `data` to `target` atomically (see {@link withAtomicFile}). */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await withAtomicFile(target, async (handle) => {
    await handle.writeFile(data);
  });
}
