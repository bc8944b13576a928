import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_SCHEMA, checkConfig } from './config-schema.js';
import { ConfigFileError } from './errors/config-file-error.js';
import { readBackendConfig } from './select.js';

/** Writes `content` to a fresh dsa.config.json and returns its path. */
function configFile(content: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-config-')), 'dsa.config.json');
  fs.writeFileSync(file, content);
  return file;
}

/** The error readBackendConfig throws for `content`. */
function failure(content: string): ConfigFileError {
  const file = configFile(content);
  try {
    readBackendConfig(file);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigFileError);
    return error as ConfigFileError;
  }
  throw new Error(`${content} was accepted`);
}

describe('dsa.config.json schema', () => {
  it('is published with the package and lists every key the config reader knows', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../package.json'), 'utf8'));
    expect(manifest.files).toContain('dsa.config.schema.json');
    expect(manifest.exports['./dsa.config.schema.json']).toBe('./dsa.config.schema.json');
    expect(manifest.publishConfig.exports['./dsa.config.schema.json']).toBe('./dsa.config.schema.json');
    expect(Object.keys(CONFIG_SCHEMA.properties)).toEqual(['$schema', 'backend', 'threads', 'settings']);
  });

  it('accepts a full config, $schema included', () => {
    const config = {
      $schema: './node_modules/@dsa/backend/dsa.config.schema.json',
      backend: 'cuda:1',
      threads: 8,
      settings: { precision: 'bf16' },
    };
    expect(readBackendConfig(configFile(JSON.stringify(config)))).toEqual(config);
  });

  it('reports an unknown key with the closest valid key', () => {
    const error = failure('{"thread": 4}');
    expect(error.message).toContain(
      'unknown key "thread" (did you mean "threads"? valid keys: $schema, backend, threads, settings)',
    );
    expect(error).toMatchObject({ code: 'config_invalid', field: 'thread', value: 4 });
    expect(failure('{"backnd": "cpu", "threads": "x"}').message).toContain('did you mean "backend"?');
    expect(failure('{"zzzzzzzz": 1}').message).toContain('unknown key "zzzzzzzz" (valid keys:');
  });

  it('names the field, the rule and the value for a wrong type or range', () => {
    expect(failure('{"backend": 7}').message).toMatch(
      /dsa\.config\.json: field "backend" must be a string \(got 7\)$/,
    );
    expect(failure('{"threads": 0}')).toMatchObject({ field: 'threads', value: 0 });
    expect(failure('{"threads": 0}').message).toContain('field "threads" must be >= 1 (got 0)');
    expect(failure('{"threads": 2.5}').message).toContain('field "threads" must be an integer (got 2.5)');
    expect(failure('{"settings": []}').message).toContain('field "settings" must be a JSON object (got [])');
    expect(failure('{"backend": "gpu"}').message).toContain(
      'field "backend" is not valid: Which backend runs the model',
    );
  });

  it('rejects a file that is not a JSON object, or not JSON', () => {
    expect(failure('[1]').message).toContain('expected a JSON object like {"backend": "cpu"}, got [1]');
    expect(failure('{"backend": ').message).toMatch(/cannot read the config: .*JSON/);
    expect(() => checkConfig({ threads: 1 }, 'x.json')).not.toThrow();
  });
});
