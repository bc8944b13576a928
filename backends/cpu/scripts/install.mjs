// Builds the native addon at install time unless a usable binary is already there.
//
//   node scripts/install.mjs          install: reuse prebuilds/ or build/ if they load, else compile
//   node scripts/install.mjs --force  always recompile (what `pnpm run build:native` does)
//
// node-gyp needs the Node headers: where `npm_config_nodedir` is unset and the distribution ships
// them under /usr/include/node (Debian's nodejs), `--nodedir=/usr` is passed so nothing is
// downloaded. A failed compile does not fail the install (set DSA_CPU_STRICT_INSTALL=1 to make it
// fail): the backend's probe() then reports score 0 with the load error, and `auto` skips it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const force = process.argv.includes('--force');

if (process.env.DSA_CPU_SKIP_BUILD === '1') {
  console.log('@dsa/backend-cpu: DSA_CPU_SKIP_BUILD=1, not building the native addon');
  process.exit(0);
}

if (!force) {
  try {
    require('node-gyp-build')(root);
    console.log('@dsa/backend-cpu: native addon already built');
    process.exit(0);
  } catch {
    // not built yet: compile below
  }
}

const args = [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', '--jobs', 'max'];
if (!process.env.npm_config_nodedir && fs.existsSync('/usr/include/node/node_api.h'))
  args.push('--nodedir=/usr');
if (process.env.DSA_CPU_DEBUG === '1') args.push('--debug');
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  const message = `@dsa/backend-cpu: building the native addon failed (exit ${result.status}); the cpu backend will be unavailable`;
  if (process.env.DSA_CPU_STRICT_INSTALL === '1' || force) {
    console.error(message);
    process.exit(result.status ?? 1);
  }
  console.warn(message);
}
