import * as fs from 'node:fs';
import * as path from 'node:path';
import { fuzzCorpus, fuzzSettings } from '@dsa/backend/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { type ModelConfig, parseModelConfig } from './model-config.js';

const settings = fuzzSettings();
const root = path.resolve(import.meta.dirname, '../../../..');
const corpus = path.join(root, 'tests/fuzz-corpus/config');
const bases = ['fixtures/tiny/config.json', 'fixtures/tiny-fp8/config.json'].map(
  (file) => JSON.parse(fs.readFileSync(path.join(root, file), 'utf8')) as Record<string, unknown>,
);
const fields = [...new Set(bases.flatMap((b) => Object.keys(b)))].concat([
  'moe_layer_freq',
  'scoring_func',
  'rope_scaling',
  'rope_theta',
  'num_nextn_predict_layers',
  'quantization_config',
]);

/** Values a hostile or careless config might hold. */
const junk = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, -1, 1.5, 2 ** 31, 2 ** 53, 1e9, 1e308, '1', 'yarn', 'dense', null, true, [], {}),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A real config with a few fields replaced, deleted or nested values broken; or any JSON at all. */
const config = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...bases),
        fc.array(fc.tuple(fc.constantFrom(...fields), fc.option(junk, { nil: undefined })), { maxLength: 3 }),
        fc.option(
          fc.tuple(
            fc.constantFrom('rope_parameters', 'quantization_config'),
            fc.string({ maxLength: 12 }),
            junk,
          ),
        ),
      )
      .map(([base, changes, nested]) => {
        const c = structuredClone(base);
        for (const [field, value] of changes) {
          if (value === undefined) delete c[field];
          else c[field] = value;
        }
        if (nested && typeof c[nested[0]] === 'object' && c[nested[0]] !== null)
          (c[nested[0]] as Record<string, unknown>)[nested[1]] = nested[2];
        return c as unknown;
      }),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/** A parsed config the model can be built from: sizes in range, one dense/MoE flag per layer. */
function expectUsable(c: ModelConfig): void {
  for (const size of [c.vocabSize, c.dim, c.nLayers, c.nHeads, c.kvLoraRank, c.qkRopeHeadDim, c.vHeadDim]) {
    expect(Number.isInteger(size) && size >= 1 && size < 2 ** 31).toBe(true);
  }
  expect(c.denseLayers).toHaveLength(c.nLayers);
  expect(c.qkRopeHeadDim % 2).toBe(0);
  expect(Number.isFinite(c.rope.theta) && c.rope.theta > 0).toBe(true);
}

function check(json: unknown): void {
  let parsed: ModelConfig;
  try {
    parsed = parseModelConfig(json, 'model/config.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.file).toBe('model/config.json');
    expect(e.field.length).toBeGreaterThan(0);
    expect(e.message).toContain(`model/config.json: field "${e.field}"`);
    return;
  }
  expectUsable(parsed);
}

describe('parseModelConfig on hostile configs (property)', () => {
  it(
    'returns a usable config or throws ConfigError naming the file and field',
    () => {
      fc.assert(fc.property(config, check), { numRuns: settings.numRuns, seed: settings.seed });
    },
    settings.timeoutMs,
  );

  for (const entry of fuzzCorpus(corpus)) {
    it(`corpus: ${entry.name}`, () => check(JSON.parse(Buffer.from(entry.bytes).toString('utf8'))));
  }
});
