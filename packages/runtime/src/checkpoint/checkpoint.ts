import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { closestNames } from '@dsa/backend';
import { CheckpointError } from './checkpoint-error.js';
import { SafetensorsFile, type TensorInfo } from './safetensors-file.js';

/** File name of the Hugging Face shard index (`{"weight_map": {tensor: shard file}}`). */
export const CHECKPOINT_INDEX_FILE = 'model.safetensors.index.json';

/** File name of a single-file checkpoint. */
export const CHECKPOINT_SINGLE_FILE = 'model.safetensors';

const SAFETENSORS_SUFFIX = '.safetensors';

interface Entry {
  readonly info: TensorInfo;
  readonly file: SafetensorsFile;
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** True when `name` (a path relative to `dir`) resolves to a path strictly inside `dir`. */
function staysInside(dir: string, name: string): boolean {
  if (name === '' || isAbsolute(name)) return false;
  const rel = relative(dir, resolve(dir, name));
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function quoteList(items: readonly string[], max = 10): string {
  const shown = items.slice(0, max).map((s) => JSON.stringify(s));
  if (items.length > max) shown.push(`... (${items.length - max} more)`);
  return shown.join(', ');
}

/** Opens every path; if one fails, closes the others and rethrows the first failure. */
async function openAll(paths: readonly string[]): Promise<SafetensorsFile[]> {
  const settled = await Promise.allSettled(paths.map((p) => SafetensorsFile.open(p)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
    throw failed.reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<SafetensorsFile>).value);
}

/** Reads and parses a JSON file, with errors that name it. */
async function readJsonFile(path: string, context: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const reason =
      errnoCode(cause) === 'ENOENT' ? `file not found (${context})` : `cannot read: ${String(cause)}`;
    throw new CheckpointError(`${path}: ${reason}`, { file: path, cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new CheckpointError(`${path}: invalid JSON: ${(cause as Error).message}`, { file: path, cause });
  }
}

/**
 * A model checkpoint folder: one or more safetensors files seen as one set of named tensors.
 *
 * {@link Checkpoint.open} finds the files the way Hugging Face does: the shards listed by
 * `model.safetensors.index.json` when present, else `model.safetensors`, else every `*.safetensors`
 * file in the folder. Only headers are read on open; tensor bytes are read on demand. Each file is
 * opened once and stays open until {@link Checkpoint.close}.
 */
export class Checkpoint {
  /** Absolute path of the checkpoint folder. */
  readonly dir: string;
  /** Absolute paths of the safetensors files in use, in the order they were opened. */
  readonly files: string[];
  /** Sum of the byte lengths of every tensor in the checkpoint. */
  readonly totalBytes: number;

  readonly #entries: ReadonlyMap<string, Entry>;
  readonly #shards: readonly SafetensorsFile[];

  private constructor(dir: string, shards: readonly SafetensorsFile[], entries: ReadonlyMap<string, Entry>) {
    this.dir = dir;
    this.#shards = shards;
    this.#entries = entries;
    this.files = shards.map((s) => s.path);
    let total = 0;
    for (const { info } of entries.values()) total += info.byteLength;
    this.totalBytes = total;
  }

  /**
   * Opens the checkpoint in folder `dir`, reading and validating the header of every file it uses.
   *
   * @throws CheckpointError when the folder does not exist or holds no safetensors files, the index is
   *   malformed or names a shard outside the folder, a shard is missing or lacks a tensor the index maps
   *   to it, a tensor name appears in two files, or any file is malformed (see {@link SafetensorsFile.open}).
   */
  static async open(dir: string): Promise<Checkpoint> {
    const root = resolve(dir);
    let entries: string[];
    try {
      const info = await stat(root);
      if (!info.isDirectory()) {
        throw new CheckpointError(
          `${root}: expected a checkpoint folder (with ${CHECKPOINT_INDEX_FILE}, ${CHECKPOINT_SINGLE_FILE} or ` +
            `*.safetensors files), found a file`,
          { file: root },
        );
      }
      entries = (await readdir(root)).sort();
    } catch (cause) {
      if (cause instanceof CheckpointError) throw cause;
      const reason =
        errnoCode(cause) === 'ENOENT' ? 'folder not found' : `cannot read folder: ${String(cause)}`;
      throw new CheckpointError(`${root}: checkpoint ${reason}`, { file: root, cause });
    }

    if (entries.includes(CHECKPOINT_INDEX_FILE)) return Checkpoint.#openIndexed(root);
    if (entries.includes(CHECKPOINT_SINGLE_FILE))
      return Checkpoint.#openFiles(root, [CHECKPOINT_SINGLE_FILE]);
    const candidates = entries.filter((e) => e.endsWith(SAFETENSORS_SUFFIX));
    if (candidates.length === 0) {
      throw new CheckpointError(
        `${root}: no safetensors checkpoint found; expected ${CHECKPOINT_INDEX_FILE} with its shards, ` +
          `${CHECKPOINT_SINGLE_FILE}, or other *.safetensors files; found ` +
          (entries.length === 0 ? 'an empty folder' : quoteList(entries)),
        { file: root },
      );
    }
    return Checkpoint.#openFiles(root, candidates);
  }

  /** Every `*.safetensors` file of the folder; a tensor name may appear in only one of them. */
  static async #openFiles(root: string, names: readonly string[]): Promise<Checkpoint> {
    const shards = await openAll(names.map((n) => join(root, n)));
    const entries = new Map<string, Entry>();
    for (const file of shards) {
      for (const info of file.tensors.values()) {
        const previous = entries.get(info.name);
        if (previous !== undefined) {
          await Promise.all(shards.map((s) => s.close()));
          throw new CheckpointError(
            `${root}: tensor "${info.name}" appears in both ${previous.info.file} and ${info.file}; expected ` +
              `each tensor in exactly one file (add ${CHECKPOINT_INDEX_FILE} to choose)`,
            { file: info.file, tensor: info.name },
          );
        }
        entries.set(info.name, { info, file });
      }
    }
    return new Checkpoint(root, shards, entries);
  }

  /** The shards named by `model.safetensors.index.json`, checked against the index. */
  static async #openIndexed(root: string): Promise<Checkpoint> {
    const indexPath = join(root, CHECKPOINT_INDEX_FILE);
    const index = await readJsonFile(indexPath, 'shard index');
    if (typeof index !== 'object' || index === null || Array.isArray(index)) {
      throw new CheckpointError(
        `${indexPath}: expected a JSON object with field "weight_map", found ${Array.isArray(index) ? 'an array' : String(index)}`,
        { file: indexPath },
      );
    }
    const weightMap = (index as { weight_map?: unknown }).weight_map;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new CheckpointError(
        `${indexPath}: field "weight_map": expected an object mapping tensor names to shard files, found ` +
          (weightMap === undefined
            ? 'no such field'
            : Array.isArray(weightMap)
              ? 'an array'
              : String(weightMap)),
        { file: indexPath, tensor: 'weight_map' },
      );
    }
    const mapped = Object.entries(weightMap as Record<string, unknown>);
    if (mapped.length === 0) {
      throw new CheckpointError(`${indexPath}: field "weight_map" is empty; expected at least one tensor`, {
        file: indexPath,
        tensor: 'weight_map',
      });
    }

    const byShard = new Map<string, string[]>();
    for (const [tensor, shard] of mapped) {
      if (typeof shard !== 'string' || !shard.endsWith(SAFETENSORS_SUFFIX) || !staysInside(root, shard)) {
        throw new CheckpointError(
          `${indexPath}: weight_map["${tensor}"]: expected a *.safetensors file name inside ${root}, found ` +
            JSON.stringify(shard),
          { file: indexPath, tensor },
        );
      }
      const list = byShard.get(shard);
      if (list === undefined) byShard.set(shard, [tensor]);
      else list.push(tensor);
    }

    const shardNames = [...byShard.keys()];
    const shardPaths = shardNames.map((n) => join(root, n));
    let shards: SafetensorsFile[];
    try {
      shards = await openAll(shardPaths);
    } catch (error) {
      if (error instanceof CheckpointError && errnoCode(error.cause) === 'ENOENT') {
        const shard = shardNames[shardPaths.indexOf(error.file ?? '')];
        if (shard !== undefined) {
          const tensors = byShard.get(shard)!;
          throw new CheckpointError(
            `${indexPath}: shard "${shard}" (mapped to ${tensors.length} tensor${tensors.length === 1 ? '' : 's'}, ` +
              `e.g. "${tensors[0]}") does not exist: expected ${error.file}`,
            { file: indexPath, tensor: tensors[0]!, cause: error },
          );
        }
      }
      throw error;
    }

    const fileOf = new Map(shardNames.map((n, i) => [n, shards[i]!]));
    const entries = new Map<string, Entry>();
    for (const [tensor, shard] of mapped as [string, string][]) {
      const file = fileOf.get(shard)!;
      const info = file.tensors.get(tensor);
      if (info === undefined) {
        await Promise.all(shards.map((s) => s.close()));
        throw new CheckpointError(
          `${indexPath}: weight_map maps tensor "${tensor}" to shard "${shard}", but ${file.path} has no such ` +
            `tensor (it holds ${file.tensors.size})`,
          { file: indexPath, tensor },
        );
      }
      entries.set(tensor, { info, file });
    }
    return new Checkpoint(root, shards, entries);
  }

  /** True when the checkpoint holds a tensor called `name`. */
  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /**
   * Where tensor `name` lives and what it holds.
   *
   * @throws CheckpointError "tensor X not found in checkpoint DIR", with up to 5 similar names.
   */
  info(name: string): TensorInfo {
    return this.#entry(name).info;
  }

  /** Names of every tensor, in index (or file, then header) order. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  /**
   * Reads the bytes of tensor `name` into a fresh `Uint8Array` over its own `ArrayBuffer` (offset 0),
   * ready to be viewed as any typed array.
   *
   * @throws CheckpointError when the tensor does not exist or the read fails.
   */
  async read(name: string): Promise<Uint8Array> {
    const { file } = this.#entry(name);
    return file.read(name);
  }

  /**
   * Reads the bytes of tensor `name` into `target`, whose length must equal the tensor's byte length.
   *
   * @throws CheckpointError when the tensor does not exist, `target` has the wrong length, or the read fails.
   */
  async readInto(name: string, target: Uint8Array): Promise<void> {
    const { file } = this.#entry(name);
    return file.readInto(name, target);
  }

  /**
   * Reads `target.byteLength` bytes of tensor `name` from `byteOffset` bytes into it.
   *
   * @throws CheckpointError when the tensor does not exist, the range leaves it, or the read fails.
   */
  async readRange(name: string, byteOffset: number, target: Uint8Array): Promise<void> {
    const { file } = this.#entry(name);
    return file.readRange(name, byteOffset, target);
  }

  /**
   * Reads and parses a JSON file of the checkpoint folder, such as `config.json`.
   *
   * @throws CheckpointError when the name leaves the folder, or the file is missing or not valid JSON.
   */
  async readJson(fileName: string): Promise<unknown> {
    if (!staysInside(this.dir, fileName)) {
      throw new CheckpointError(
        `${this.dir}: ${JSON.stringify(fileName)}: expected a file name inside the checkpoint folder`,
        { file: fileName },
      );
    }
    return readJsonFile(join(this.dir, fileName), `expected in checkpoint folder ${this.dir}`);
  }

  /**
   * Closes every file; later reads throw. The promise never rejects, so it may be left un-awaited.
   */
  async close(): Promise<void> {
    await Promise.all(this.#shards.map((s) => s.close()));
  }

  /** `await using ckpt = await Checkpoint.open(dir)` closes the files at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #entry(name: string): Entry {
    const entry = this.#entries.get(name);
    if (entry === undefined) {
      const similar = closestNames(name, this.#entries.keys(), 5);
      throw new CheckpointError(
        `tensor "${name}" not found in checkpoint ${this.dir} (${this.#entries.size} tensors in ` +
          `${this.files.length} file${this.files.length === 1 ? '' : 's'})` +
          (similar.length > 0 ? `; did you mean ${quoteList(similar)}?` : ''),
        { file: this.dir, tensor: name },
      );
    }
    return entry;
  }
}
