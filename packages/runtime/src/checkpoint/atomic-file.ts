import { rmSync } from 'node:fs';
import { type FileHandle, open as openFile, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';

/** Temporary files of writes still in flight, removed if the process is interrupted (SIGINT/SIGTERM). */
const pending = new Set<string>();
let signalsHooked = false;

function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  const cleanup = (): void => {
    for (const file of pending) {
      // Synchronous: async work does not run in 'exit'. Best effort; a temporary name never shadows the final file.
      rmSync(file, { force: true });
    }
  };
  process.once('exit', cleanup);
}

/**
 * Writes a file atomically: `write` fills a temporary file in the same folder as `target`, which is
 * then fsynced and renamed over `target`. If `write` throws (or the disk fills, or the process exits
 * first), the temporary file is removed and any existing `target` stays untouched, so a reader never
 * sees a half-written file under the final name.
 *
 * @param target - the final path.
 * @param write - fills the open handle (positional writes are fine); its result is returned.
 */
export async function withAtomicFile<T>(
  target: string,
  write: (handle: FileHandle, temporaryPath: string) => Promise<T>,
): Promise<T> {
  hookSignals();
  const temporary = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`,
  );
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
  }
}

/** Writes `data` to `target` atomically (see {@link withAtomicFile}). */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await withAtomicFile(target, async (handle) => {
    await handle.writeFile(data);
  });
}
