// The publishable packages, in dependency order: shared by the pack checks and the release dry run.
export const PACKAGES = [
  'packages/tensor',
  'packages/backend',
  'packages/indexer',
  'packages/mla',
  'packages/moe',
  'packages/runtime',
  'backends/reference',
  'backends/cpu',
  'backends/cuda',
  'backends/ascend',
  'apps/server',
  'apps/cli',
  'packages/demo-model',
];
