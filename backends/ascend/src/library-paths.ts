import fs from 'node:fs';
import path from 'node:path';

/** The CANN libraries the backend loads, by role (spec §9.4). */
export const ASCEND_LIBRARIES = {
  /** Runtime: aclInit, devices, streams, memory, copies. */
  runtime: 'libascendcl.so',
  /** Tensor / scalar / int-array descriptors (aclCreateTensor lives here, not in libascendcl). */
  descriptors: 'libnnopbase.so',
  /** The built-in aclnn operators. */
  operators: 'libopapi.so',
  /** Custom operator packages (LightningIndexer, SparseFlashAttention); optional. */
  custom: 'libcust_opapi.so',
} as const;

/** Where the libraries were found, or every folder that was searched. */
export type LibraryLookup =
  | {
      /** Found: absolute paths of the required libraries and of the optional custom one (if any). */
      readonly found: true;
      /** Folder holding libascendcl.so. */
      readonly directory: string;
      /** Absolute path per library role; `custom` absent when no custom op package is installed. */
      readonly paths: {
        /** libascendcl.so */
        readonly runtime: string;
        /** libnnopbase.so */
        readonly descriptors: string;
        /** libopapi.so */
        readonly operators: string;
        /** libcust_opapi.so, when a custom operator package is installed. */
        readonly custom?: string;
      };
    }
  | {
      /** Not found. */
      readonly found: false;
      /** Every folder that was looked in, in order. */
      readonly searched: readonly string[];
      /** What to do about it, naming the environment variables. */
      readonly reason: string;
    };

function archDirectory(): string {
  return process.arch === 'arm64' ? 'aarch64-linux' : 'x86_64-linux';
}

/**
 * Folders searched for the CANN libraries, in order: `DSA_ASCEND_LIB_DIR`, then `ASCEND_HOME_PATH`
 * (`lib64` and `<arch>-linux/lib64`), `ASCEND_TOOLKIT_HOME`, then the usual install locations.
 */
export function candidateDirectories(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = [];
  const add = (dir: string | undefined) => {
    if (dir && !dirs.includes(dir)) dirs.push(dir);
  };
  add(env.DSA_ASCEND_LIB_DIR);
  for (const home of [env.ASCEND_HOME_PATH, env.ASCEND_TOOLKIT_HOME]) {
    if (!home) continue;
    add(path.join(home, 'lib64'));
    add(path.join(home, archDirectory(), 'lib64'));
  }
  for (const root of ['/usr/local/Ascend/ascend-toolkit/latest', '/usr/local/Ascend/latest']) {
    add(path.join(root, 'lib64'));
    add(path.join(root, archDirectory(), 'lib64'));
  }
  return dirs;
}

/** Folders searched for `libcust_opapi.so` beside the runtime folder: `$ASCEND_OPP_PATH/vendors/<v>/op_api/lib`. */
function customDirectories(runtimeDir: string, env: NodeJS.ProcessEnv): string[] {
  const dirs = [runtimeDir];
  const opp = env.ASCEND_OPP_PATH ?? path.join(path.dirname(runtimeDir), 'opp');
  const vendors = path.join(opp, 'vendors');
  if (fs.existsSync(vendors))
    for (const vendor of fs.readdirSync(vendors)) dirs.push(path.join(vendors, vendor, 'op_api', 'lib'));
  return dirs;
}

/** Finds the CANN libraries (see {@link candidateDirectories}); never throws. */
export function findAscendLibraries(env: NodeJS.ProcessEnv = process.env): LibraryLookup {
  const searched = candidateDirectories(env);
  for (const dir of searched) {
    const runtime = path.join(dir, ASCEND_LIBRARIES.runtime);
    if (!fs.existsSync(runtime)) continue;
    const descriptors = path.join(dir, ASCEND_LIBRARIES.descriptors);
    const operators = path.join(dir, ASCEND_LIBRARIES.operators);
    for (const required of [descriptors, operators]) {
      if (!fs.existsSync(required)) {
        return {
          found: false,
          searched,
          reason: `found ${runtime} but not ${required}: the CANN install in ${dir} is incomplete (the aclnn operator libraries come with the CANN toolkit / kernels package)`,
        };
      }
    }
    const custom = customDirectories(dir, env)
      .map((d) => path.join(d, ASCEND_LIBRARIES.custom))
      .find((p) => fs.existsSync(p));
    return {
      found: true,
      directory: dir,
      paths: { runtime, descriptors, operators, ...(custom ? { custom } : {}) },
    };
  }
  return {
    found: false,
    searched,
    reason:
      `${ASCEND_LIBRARIES.runtime} (CANN runtime) not found; looked in ${searched.join(', ')}. ` +
      'Install the CANN toolkit and run `source /usr/local/Ascend/ascend-toolkit/set_env.sh` (sets ASCEND_HOME_PATH), ' +
      'or set ASCEND_HOME_PATH to the toolkit root, or DSA_ASCEND_LIB_DIR to the folder holding libascendcl.so, libnnopbase.so and libopapi.so.',
  };
}
