import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type Backend,
  type BackendFactory,
  type BackendName,
  type BackendOptions,
  SPECIFICATION_VERSION,
} from './backend.js';
import { checkConfig } from './config-schema.js';
import { BackendUnavailableError } from './errors/backend-unavailable-error.js';
import { ConfigFileError } from './errors/config-file-error.js';
import { selectionOverrides } from './settings.js';

/** Every backend name `auto` looks for, best first when scores tie. */
export const BACKEND_NAMES: readonly BackendName[] = ['cuda', 'ascend', 'cpu', 'reference'];

/** A parsed backend choice: `auto`, or a backend name with an optional device index (`cuda:1`). */
export type BackendSpec =
  | {
      /** Pick the best-scoring installed backend. */
      readonly name: 'auto';
    }
  | {
      /** The backend to use. */
      readonly name: BackendName;
      /** Device ordinal (`cuda:1` → 1); absent for the default device. */
      readonly deviceIndex?: number;
    };

/** What `auto` found for one backend. */
export interface BackendReport {
  /** The backend this report is about. */
  readonly name: BackendName;
  /** Whether its package could be loaded. */
  readonly installed: boolean;
  /** Its probe score; 0 when unusable or not installed. */
  readonly score: number;
  /** Why it scored as it did, or why it is not installed. */
  readonly reason: string;
}

/** How to install each backend, for error messages. */
const INSTALL_HINT: Record<BackendName, string> = {
  reference: 'npm install @dsa/backend-reference',
  cpu: 'npm install @dsa/backend-cpu (prebuilt for linux-x64 glibc; elsewhere it builds from source: needs python3, make and a C++17 compiler)',
  cuda: 'npm install @dsa/backend-cuda (needs an NVIDIA driver with libcuda.so.1 at run time)',
  ascend: 'npm install @dsa/backend-ascend (needs the CANN toolkit; set ASCEND_HOME_PATH)',
};

/** Parses `auto`, `cpu`, `cuda:0`, `ascend:1`...; throws naming the bad value. */
export function parseBackendSpec(value: string): BackendSpec {
  const text = value.trim().toLowerCase();
  if (text === 'auto' || text === '') return { name: 'auto' };
  const [name, index] = text.split(':');
  if (!BACKEND_NAMES.includes(name as BackendName)) {
    throw new BackendUnavailableError(
      text,
      `unknown backend "${value}": expected auto, ${BACKEND_NAMES.join(', ')} (optionally with :N, e.g. cuda:0)`,
    );
  }
  if (index === undefined) return { name: name as BackendName };
  const deviceIndex = Number(index);
  if (!Number.isInteger(deviceIndex) || deviceIndex < 0) {
    throw new BackendUnavailableError(
      text,
      `backend "${value}": device index "${index}" is not a non-negative integer`,
    );
  }
  return { name: name as BackendName, deviceIndex };
}

/** Options for {@link createBackend}. */
export interface CreateBackendOptions extends BackendOptions {
  /** `auto` (default), a backend name, or `name:N`. `DSA_BACKEND` overrides it when set. */
  readonly backend?: string;
  /** Factories to consider besides installed packages (tests, custom backends). */
  readonly factories?: readonly BackendFactory[];
  /** Folders to resolve backend packages from, besides this package, the working directory and the main script. */
  readonly searchPaths?: readonly string[];
  /** Receives one line per decision `auto` makes. */
  readonly log?: (line: string) => void;
  /**
   * A JSON config file with `{"backend": "...", "threads": N, "settings": {...}}`; default: `DSA_CONFIG`, else
   * `dsa.config.json` in the working directory when it exists. Options given here take precedence over it.
   */
  readonly configFile?: string;
}

/** The backend settings a config file may hold. */
export interface BackendConfigFile {
  /** The schema the file follows, for editors (`./node_modules/@dsa/backend/dsa.config.schema.json`). */
  readonly $schema?: string;
  /** Backend spec: `auto`, a name, or `name:N`. */
  readonly backend?: string;
  /** Worker threads for CPU backends. */
  readonly threads?: number;
  /** Free-form backend-specific settings. */
  readonly settings?: Readonly<Record<string, unknown>>;
}

/**
 * Reads the backend config file (see {@link CreateBackendOptions.configFile}); `{}` when there is none.
 * Throws a {@link ConfigFileError} when it is not JSON or breaks its schema (`@dsa/backend/dsa.config.schema.json`).
 */
export function readBackendConfig(file?: string): BackendConfigFile {
  const explicit = file ?? selectionOverrides().configFile;
  const candidate = explicit ?? path.join(process.cwd(), 'dsa.config.json');
  if (!explicit && !fs.existsSync(candidate)) return {};
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(candidate, 'utf8'));
  } catch (error) {
    throw new ConfigFileError(
      candidate,
      `cannot read the config: ${(error as Error).message}`,
      {},
      { cause: error },
    );
  }
  checkConfig(json, candidate);
  return json as BackendConfigFile;
}

/**
 * Loads the factory of backend `name` from an installed `@dsa/backend-<name>` package, or returns
 * `undefined` with the reason when it is not installed.
 */
export async function loadBackendFactory(
  name: BackendName,
  searchPaths: readonly string[] = [],
  options: {
    /** Look only in `searchPaths`, not beside this package, the working directory or the main script. */
    readonly onlySearchPaths?: boolean;
  } = {},
): Promise<{
  /** The package's default export; absent when it is missing, invalid or of another contract version. */
  factory?: BackendFactory;
  /** Why it could not be loaded, or `"installed"`. */
  reason: string;
}> {
  const specifier = `@dsa/backend-${name}`;
  const fromSearchPaths = searchPaths.map((p) => pathToFileURL(path.join(path.resolve(p), 'noop.js')).href);
  const bases = options.onlySearchPaths
    ? fromSearchPaths
    : [
        import.meta.url,
        ...fromSearchPaths,
        pathToFileURL(path.join(process.cwd(), 'noop.js')).href,
        ...(process.argv[1] ? [pathToFileURL(process.argv[1]).href] : []),
      ];
  for (const base of bases) {
    let resolved: string;
    try {
      // NODE_PATH (set by `pnpm exec`, say) is searched by every require; with onlySearchPaths the
      // package must sit in a node_modules folder at or above a search path.
      if (options.onlySearchPaths && !installedAbove(new URL(base).pathname, specifier)) continue;
      resolved = createRequire(base).resolve(specifier);
    } catch {
      continue;
    }
    const module = (await import(pathToFileURL(resolved).href)) as { default?: BackendFactory };
    const factory = module.default;
    if (!factory || typeof factory.create !== 'function') {
      return { reason: `${specifier} at ${resolved} has no default-exported BackendFactory` };
    }
    if (factory.specificationVersion !== SPECIFICATION_VERSION) {
      return {
        reason: `${specifier} implements backend contract ${factory.specificationVersion}, this runtime needs ${SPECIFICATION_VERSION}`,
      };
    }
    return { factory, reason: 'installed' };
  }
  return { reason: `${specifier} is not installed (${INSTALL_HINT[name]})` };
}

/** Probes every known backend and reports what `auto` would see. */
export async function listBackends(options: CreateBackendOptions = {}): Promise<BackendReport[]> {
  const reports: BackendReport[] = [];
  for (const name of BACKEND_NAMES) {
    const factory = await findFactory(name, options);
    if (!factory.factory) {
      reports.push({ name, installed: false, score: 0, reason: factory.reason });
      continue;
    }
    try {
      const { score, reason } = await factory.factory.probe();
      reports.push({ name, installed: true, score, reason });
    } catch (error) {
      reports.push({ name, installed: true, score: 0, reason: `probe failed: ${(error as Error).message}` });
    }
  }
  return reports;
}

/**
 * Creates the backend chosen by `DSA_BACKEND`, else `options.backend`, else the config file's `backend`: a named one, or with `auto`
 * the installed backend whose probe scores highest. Fails with a message that says how to install
 * or enable the backend when it cannot be used.
 */
export async function createBackend(options: CreateBackendOptions = {}): Promise<Backend> {
  const file = readBackendConfig(options.configFile);
  const choice = selectionOverrides().backend || options.backend || file.backend || 'auto';
  const spec = parseBackendSpec(choice);
  const log = options.log ?? (() => {});
  const threads = options.threads ?? file.threads;
  const settings = options.settings ?? file.settings;
  const createOptions: BackendOptions = {
    ...(threads !== undefined ? { threads } : {}),
    ...(settings !== undefined ? { settings } : {}),
  };
  if (spec.name === 'auto') {
    const reports = await listBackends(options);
    for (const r of reports)
      log(`backend ${r.name}: ${r.installed ? `score ${r.score}` : 'not installed'} (${r.reason})`);
    const best = reports.filter((r) => r.score > 0).sort((a, b) => b.score - a.score)[0];
    if (!best) {
      throw new BackendUnavailableError(
        'auto',
        `no usable backend found:\n${reports.map((r) => `  ${r.name}: ${r.reason}`).join('\n')}`,
      );
    }
    log(`backend auto: picked ${best.name} (highest score ${best.score})`);
    const { factory } = await findFactory(best.name, options);
    return factory!.create(createOptions);
  }
  const { factory, reason } = await findFactory(spec.name, options);
  if (!factory) throw new BackendUnavailableError(spec.name, `backend "${choice}" is unavailable: ${reason}`);
  const probe = await factory.probe();
  if (probe.score <= 0) {
    throw new BackendUnavailableError(spec.name, `backend "${choice}" cannot run here: ${probe.reason}`);
  }
  return factory.create({
    ...createOptions,
    ...(spec.deviceIndex !== undefined ? { deviceIndex: spec.deviceIndex } : {}),
  });
}

async function findFactory(name: BackendName, options: CreateBackendOptions) {
  const given = options.factories?.find((f) => f.name === name);
  if (given) return { factory: given, reason: 'provided' };
  return loadBackendFactory(name, options.searchPaths);
}

/** Whether `node_modules/<specifier>` exists in the folder of `file` or a folder above it. */
function installedAbove(file: string, specifier: string): boolean {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'node_modules', specifier, 'package.json'))) return true;
    if (path.dirname(dir) === dir) return false;
  }
}
