// Install step of @dsa/backend-cpu: use the prebuilt binary when one fits this machine, else build
// the native addon from source, saying why.
//
//   node scripts/install.mjs          install: reuse build/ if it loads, else the prebuild if it fits, else compile
//   node scripts/install.mjs --force  always recompile (what `pnpm run build:native` does)
//
// A prebuild fits when prebuilds/<platform>-<arch>/ has one, it was built from the sources in native/
// (prebuilds/SOURCES.sha256, written by scripts/prebuild.mjs) and it loads here (glibc >= 2.32 and
// GCC 12's libstdc++ for linux-x64). node-gyp needs the Node headers: where `npm_config_nodedir` is
// unset and the distribution ships them under /usr/include/node (Debian's nodejs), `--nodedir=/usr`
// is passed so nothing is downloaded. A failed compile does not fail the install (set
// DSA_CPU_STRICT_INSTALL=1 to make it fail): the backend's probe() then reports score 0 with the load
// error and the fix, and `auto` skips it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeSourcesHash, PREBUILD_SOURCES_FILE } from './sources-hash.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const force = process.argv.includes('--force');
const say = (line) => console.log(`@dsa/backend-cpu: ${line}`);

if (process.env.DSA_CPU_SKIP_BUILD === '1') {
  say('DSA_CPU_SKIP_BUILD=1, not building the native addon');
  process.exit(0);
}

/** The prebuilt binary for this machine, or why none fits. */
function prebuild() {
  const target = `${process.platform}-${process.arch}`;
  const dir = path.join(root, 'prebuilds', target);
  const shipped = fs.existsSync(path.join(root, 'prebuilds'))
    ? fs.readdirSync(path.join(root, 'prebuilds')).filter((d) => d.includes('-'))
    : [];
  const file = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.node')) : undefined;
  if (!file)
    return { reason: `no prebuilt binary for ${target} (prebuilt: ${shipped.join(', ') || 'none'})` };
  const recorded = fs.existsSync(path.join(root, PREBUILD_SOURCES_FILE))
    ? fs.readFileSync(path.join(root, PREBUILD_SOURCES_FILE), 'utf8').trim()
    : '';
  if (recorded !== nativeSourcesHash(root))
    return { reason: `prebuilds/${target}/${file} was built from other sources than native/` };
  try {
    require(path.join(dir, file));
  } catch (error) {
    return { reason: `prebuilds/${target}/${file} does not load here: ${error.message.split('\n')[0]}` };
  }
  return { file: `prebuilds/${target}/${file}` };
}

if (!force) {
  if (fs.existsSync(path.join(root, 'build/Release/dsa_cpu.node'))) {
    try {
      require(path.join(root, 'build/Release/dsa_cpu.node'));
      say('native addon already built (build/Release)');
      process.exit(0);
    } catch {
      // a broken build: rebuild below
    }
  }
  const found = prebuild();
  if (found.file) {
    say(`using the prebuilt binary ${found.file}`);
    process.exit(0);
  }
  say(`${found.reason}; building from source (needs python3, make and a C++17 compiler)`);
}

const args = [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', '--jobs', 'max'];
if (!process.env.npm_config_nodedir && fs.existsSync('/usr/include/node/node_api.h'))
  args.push('--nodedir=/usr');
if (process.env.DSA_CPU_DEBUG === '1') args.push('--debug');
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  const message = `@dsa/backend-cpu: building the native addon failed (exit ${result.status}); the cpu backend will be unavailable until it is built: install python3, make and a C++17 compiler, then run \`npm rebuild @dsa/backend-cpu\``;
  if (process.env.DSA_CPU_STRICT_INSTALL === '1' || force) {
    console.error(message);
    process.exit(result.status ?? 1);
  }
  console.warn(message);
}
