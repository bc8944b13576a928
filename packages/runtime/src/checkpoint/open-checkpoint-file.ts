import { type FileHandle, open as openFile } from 'node:fs/promises';
import { CheckpointError } from './checkpoint-error.js';

/**
 * Opens `path` for reading and hands the handle to `parse`, which returns what keeps it open. Every
 * failure is a CheckpointError naming the file: `cannot open <kind> file` when it cannot be opened,
 * `cannot read <kind> header` for an unexpected error in `parse` (whose own CheckpointErrors pass
 * unchanged); the handle is closed when `parse` throws.
 */
export async function openCheckpointFile<T>(
  path: string,
  kind: string,
  parse: (handle: FileHandle) => Promise<T>,
): Promise<T> {
  let handle: FileHandle;
  try {
    handle = await openFile(path, 'r');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(cause);
    throw new CheckpointError(`${path}: cannot open ${kind} file: ${reason}`, { file: path, cause });
  }
  try {
    return await parse(handle);
  } catch (error) {
    await handle.close().catch(() => {});
    if (error instanceof CheckpointError) throw error;
    throw new CheckpointError(`${path}: cannot read ${kind} header: ${String(error)}`, {
      file: path,
      cause: error,
    });
  }
}
