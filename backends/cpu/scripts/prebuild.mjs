// Builds the prebuilt binary the package ships: prebuilds/<platform>-<arch>/@dsa+backend-cpu.glibc.node
// (Node-API, so one binary serves every Node >= 20), stripped, with the ISA dispatch inside (the AVX2 /
// AVX-512 kernels are compiled per file with `#pragma GCC target`, picked at run time). It then
// records the hash of the sources in prebuilds/SOURCES.sha256, which the install checks.
//
//   pnpm --filter @dsa/backend-cpu run prebuild      (needs python3, make, a C++17 compiler and strip)
//
// The build is reproducible: fixed flags, no timestamps, paths mapped with -ffile-prefix-map; two
// runs give the same bytes. Run it after any change under native/ or to binding.gyp and commit the result.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeSourcesHash, PREBUILD_SOURCES_FILE } from './sources-hash.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const env = {
  ...process.env,
  DSA_CPU_PREBUILD: '1',
  SOURCE_DATE_EPOCH: '0',
  ...(!process.env.npm_config_nodedir && fs.existsSync('/usr/include/node/node_api.h')
    ? { npm_config_nodedir: '/usr' }
    : {}),
};
const result = spawnSync(
  process.execPath,
  [
    require.resolve('prebuildify/bin.js'),
    '--napi',
    '--strip',
    '--tag-libc',
    '--target',
    process.versions.node,
  ],
  { cwd: root, stdio: 'inherit', env },
);
if (result.status !== 0) {
  console.error(`prebuildify failed (exit ${result.status})`);
  process.exit(result.status ?? 1);
}
fs.writeFileSync(path.join(root, PREBUILD_SOURCES_FILE), `${nativeSourcesHash(root)}\n`);
for (const dir of fs.readdirSync(path.join(root, 'prebuilds'), { withFileTypes: true })) {
  if (!dir.isDirectory()) continue;
  for (const file of fs.readdirSync(path.join(root, 'prebuilds', dir.name))) {
    const size = fs.statSync(path.join(root, 'prebuilds', dir.name, file)).size;
    console.log(`prebuilds/${dir.name}/${file}: ${size} B`);
  }
}
