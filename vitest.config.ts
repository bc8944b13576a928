import { defineConfig } from 'vitest/config';

// One vitest run for the whole workspace. Sources are resolved through the `@dsa/source` export
// condition, so tests run against TypeScript sources without a build. Device suites
// (`*.cuda.test.ts`, `*.ascend-hw.test.ts`) are gated by DSA_TEST_DEVICE inside the files.
export default defineConfig({
  resolve: { conditions: ['@dsa/source'] },
  ssr: { resolve: { conditions: ['@dsa/source'] } },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'backends/*/src/**/*.test.ts',
      'backends/*/check/**/*.test.ts',
      'apps/*/src/**/*.test.ts',
      'tests/**/*.test.ts',
      'tools/*/src/**/*.test.ts',
    ],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
