import type { FileHandle } from 'node:fs/promises';

/**
 * A checkpoint file opened for random access ({@link SafetensorsFile}, {@link GgufFile}): one read-only
 * handle stays open until {@link CheckpointFile.close}, and `await using` closes it at scope exit.
 */
export abstract class CheckpointFile {
  /** The path the file was opened with. */
  readonly path: string;
  /** Size of the file in bytes. */
  readonly size: number;

  #handle: FileHandle | undefined;

  protected constructor(path: string, handle: FileHandle, size: number) {
    this.path = path;
    this.#handle = handle;
    this.size = size;
  }

  /** The open handle; undefined once {@link CheckpointFile.close} was called. */
  protected get handle(): FileHandle | undefined {
    return this.#handle;
  }

  /** True once {@link CheckpointFile.close} was called. */
  get closed(): boolean {
    return this.#handle === undefined;
  }

  /**
   * Closes the file handle once reads in flight finish; later reads throw. Calling it again does nothing.
   * The promise never rejects (a failing close of a read-only file loses nothing), so it may be left
   * un-awaited.
   */
  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle !== undefined) await handle.close().catch(() => {});
  }

  /** `await using file = await SafetensorsFile.open(path)` closes the file at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
