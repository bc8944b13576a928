// The device suite: a plain script (no vitest) for the GPU host, which has no Node toolchain. It runs
// the conformance kit against the reference backend, the device behaviour checks, the fused-kernel
// checks of check/fused-checks.ts and the fixture
// checks of tests/golden.test.ts, printing one line per check and a JSON summary; exits 1 when a check
// fails and 2 when the cuda backend cannot run at all.
//   node device-suite.mjs [--fixtures DIR] [--json FILE] [--skip-fixtures] [--filter TEXT]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '@dsa/backend';
import { ReferenceBackend } from '@dsa/backend-reference';
import cudaBackendFactory, { cudaSettings } from '../src/index.js';
import { fusedChecks } from './fused-checks.js';
import {
  behaviourChecks,
  type CheckResult,
  checkCase,
  conformanceCases,
  FIXTURES,
  fixtureChecks,
  formatCheck,
  gemmChecks,
} from './index.js';
import { modelGraphChecks } from './model-graphs.js';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function defaultFixtures(): string {
  if (process.env.DSA_FIXTURES) return process.env.DSA_FIXTURES;
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures');
}

async function main(): Promise<number> {
  const started = performance.now();
  const results: CheckResult[] = [];
  const print = (r: CheckResult) => {
    results.push(r);
    console.log(formatCheck(r));
  };
  const filter = option('--filter');
  console.log(
    `node ${process.version}, ${process.platform}-${process.arch}, settings ${JSON.stringify(cudaSettings())}`,
  );
  const probe = await cudaBackendFactory.probe();
  console.log(`probe: ${probe.score}, ${probe.reason}`);
  const summary = (extra: Record<string, unknown>) => {
    const failed = results.filter((r) => !r.passed);
    const json = {
      passed: results.length - failed.length,
      failed: failed.length,
      failures: failed.map((r) => r.name),
      seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
      probe,
      ...extra,
      results,
    };
    const file = option('--json');
    if (file) fs.writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
    console.log(`SUMMARY ${JSON.stringify({ ...json, results: undefined })}`);
    return failed.length;
  };
  if (probe.score <= 0) {
    summary({ device: null });
    return 2;
  }
  let backend: Backend;
  try {
    backend = await cudaBackendFactory.create();
  } catch (error) {
    console.log(`FAIL create ${(error as Error).message}`);
    summary({ device: null });
    return 2;
  }
  console.log(
    `device: ${backend.device.description}, fused: ${[...backend.capabilities.fused].join(',') || 'none'}`,
  );
  const oracle = new ReferenceBackend();
  for (const testCase of conformanceCases()) {
    if (filter && !`${testCase.kernel}: ${testCase.name}`.includes(filter)) continue;
    print(await checkCase(testCase, backend, oracle));
  }
  if (!filter || 'behaviour'.includes(filter)) for (const r of await behaviourChecks(backend)) print(r);
  for (const r of await gemmChecks(backend, oracle, filter)) print(r);
  for (const r of await fusedChecks(backend, oracle, filter)) print(r);
  if (!process.argv.includes('--skip-fixtures') && !filter) {
    const root = option('--fixtures') ?? defaultFixtures();
    for (const fixture of FIXTURES) await fixtureChecks(backend, path.join(root, fixture), print);
    // Decode steps replayed as CUDA graphs against the same steps run eagerly.
    await modelGraphChecks(backend, path.join(root, 'tiny'), print);
  }
  const failed = summary({ device: backend.device });
  backend.dispose();
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.log(`FAIL suite ${(error as Error).stack ?? error}`);
    process.exit(1);
  },
);
