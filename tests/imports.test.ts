// The package layering, checked by tools/check-imports.mjs on this repository and on small fake trees
// (so each rule is seen to fail).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkImports, importsOf } from '../tools/check-imports.mjs';

interface Violation {
  file: string;
  line: number;
  specifier: string;
  rule: string;
}
const check = checkImports as (root: string, exceptions?: [string, string][]) => Violation[];

const root = path.resolve(import.meta.dirname, '..');

function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-imports-'));
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

describe('package layering (tools/check-imports.mjs)', () => {
  it('holds in this repository', () => {
    expect(check(root)).toEqual([]);
  });

  it('reads static, re-exported, type-only and dynamic imports, not comments or strings', () => {
    const text = [
      "import type { A } from '@dsa/a';",
      "export { b } from '@dsa/b';",
      '// import { c } from "@dsa/c";',
      "const d = await import('@dsa/d');",
      "const e = 'from @dsa/e';",
    ].join('\n');
    expect(importsOf('x.ts', text)).toEqual([
      { specifier: '@dsa/a', dynamic: false, line: 1 },
      { specifier: '@dsa/b', dynamic: false, line: 2 },
      { specifier: '@dsa/d', dynamic: true, line: 4 },
    ]);
  });

  it('reports each broken rule with file, line and import', () => {
    const dir = tree({
      'backends/gpu/src/kernels.ts':
        "import { Moe } from '@dsa/moe';\nimport { x } from '@dsa/runtime/model';",
      'backends/gpu/src/kernels.test.ts': "import { Mla } from '@dsa/mla';",
      'packages/mla/src/mla.ts': "import { ReferenceBackend } from '@dsa/backend-reference';",
      'packages/mla/src/mla.test.ts': "import { ReferenceBackend } from '@dsa/backend-reference';",
      'packages/runtime/src/load.ts':
        "import cpu from '@dsa/backend-cpu';\nconst c = import('@dsa/backend-cuda');",
      'apps/cli/src/bench.ts': "import type { CudaBackend } from '@dsa/backend-cuda';",
      'apps/cli/src/bench.test.ts': "import { ReferenceBackend } from '@dsa/backend-reference';",
      'backends/gpu/check/suite.ts': "import { DeepseekModel } from '@dsa/runtime';",
    });
    try {
      expect(check(dir, [])).toEqual([
        {
          file: 'packages/mla/src/mla.ts',
          line: 1,
          specifier: '@dsa/backend-reference',
          rule: 'only the runtime and tests import @dsa/runtime or @dsa/backend-reference',
        },
        {
          file: 'packages/runtime/src/load.ts',
          line: 1,
          specifier: '@dsa/backend-cpu',
          rule: 'the runtime never imports a backend statically',
        },
        {
          file: 'backends/gpu/src/kernels.test.ts',
          line: 1,
          specifier: '@dsa/mla',
          rule: 'backends never import layer packages or the runtime',
        },
        {
          file: 'backends/gpu/src/kernels.ts',
          line: 1,
          specifier: '@dsa/moe',
          rule: 'backends never import layer packages or the runtime',
        },
        {
          file: 'backends/gpu/src/kernels.ts',
          line: 2,
          specifier: '@dsa/runtime/model',
          rule: 'backends never import layer packages or the runtime',
        },
        {
          file: 'apps/cli/src/bench.ts',
          line: 1,
          specifier: '@dsa/backend-cuda',
          rule: 'apps use backends only through @dsa/backend',
        },
      ]);
      // a listed backend test passes; a listed exception that no longer applies is reported
      const listed = check(dir, [
        ['backends/gpu/src/kernels.test.ts', '@dsa/mla'],
        ['backends/gpu/src/gone.test.ts', '@dsa/moe'],
      ]);
      expect(listed.map((v) => v.file)).not.toContain('backends/gpu/src/kernels.test.ts');
      expect(listed.at(-1)).toEqual({
        file: 'backends/gpu/src/gone.test.ts',
        line: 0,
        specifier: '@dsa/moe',
        rule: 'listed exception no longer needed: remove it',
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
