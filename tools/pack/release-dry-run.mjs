// A dry-run release: on a scratch worktree of HEAD, `changeset version` consumes the pending changesets (fixed
// versioning for @dsa/*), writes each package's CHANGELOG.md and bumps versions and internal ranges; then every
// package packs with the new version. Nothing is committed or published; the worktree is removed.
// Usage (after `pnpm build`): node tools/pack/release-dry-run.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGES } from './packages.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-release-'));
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
run('git', ['worktree', 'add', '--detach', scratch, 'HEAD'], root);
try {
  const pending = fs
    .readdirSync(path.join(scratch, '.changeset'))
    .filter((f) => f.endsWith('.md') && f !== 'README.md');
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
  run('node', [path.join(root, 'node_modules/@changesets/cli/bin.js'), 'version'], scratch);
  const versions = new Set();
  for (const dir of PACKAGES) {
    const pkg = JSON.parse(fs.readFileSync(path.join(scratch, dir, 'package.json'), 'utf8'));
    const changelog = fs.readFileSync(path.join(scratch, dir, 'CHANGELOG.md'), 'utf8');
    if (!changelog.includes(`## ${pkg.version}`))
      throw new Error(`${pkg.name}: CHANGELOG.md has no section for ${pkg.version}`);
    versions.add(pkg.version);
    // Built packages carry dist/; the demo model ships its files at the package root.
    const dist = path.join(root, dir, 'dist');
    if (fs.existsSync(dist)) fs.cpSync(dist, path.join(scratch, dir, 'dist'), { recursive: true });
    fs.symlinkSync(path.join(root, dir, 'node_modules'), path.join(scratch, dir, 'node_modules'));
    run('pnpm', ['pack', '--pack-destination', scratch], path.join(scratch, dir));
  }
  if (versions.size !== 1) throw new Error(`fixed versioning broken: ${[...versions].join(', ')}`);
  console.log(
    `release dry run: ${pending.length} changesets -> version ${[...versions][0]} for ${PACKAGES.length} packages, changelogs written, all packed`,
  );
} finally {
  run('git', ['worktree', 'remove', '--force', scratch], root);
}
