import { describe, expect, it } from 'vitest';
import { InvalidSettingError } from './errors/invalid-setting-error.js';
import { readSettings, selectionOverrides } from './settings.js';

const SPECS = {
  on: { kind: 'flag', env: 'X_ON' },
  mode: { kind: 'choice', values: ['a', 'b'], aliases: { '1': 'b' }, env: 'X_MODE' },
  size: { kind: 'number', integer: true, min: 1 },
  path: { kind: 'string', env: 'X_PATH' },
} as const;

describe('readSettings', () => {
  it('takes the given fields, lets set environment variables override them, and leaves the rest absent', () => {
    expect(readSettings(SPECS, { on: false, size: 3 }, {})).toEqual({ on: false, size: 3 });
    expect(readSettings(SPECS, { on: false, mode: 'a' }, { X_ON: 'true', X_MODE: '1', X_PATH: '' })).toEqual({
      on: true,
      mode: 'b',
    });
  });

  it('throws InvalidSettingError naming the field or variable and the value', () => {
    expect(() => readSettings(SPECS, { size: 2.5 }, {})).toThrow('settings.size: 2.5 is not an integer ≥ 1');
    expect(() => readSettings(SPECS, { on: 'yes' }, {})).toThrow('settings.on: "yes" is not true or false');
    expect(() => readSettings(SPECS, {}, { X_MODE: 'c' })).toThrow('X_MODE: "c" is not one of a, b');
    expect(() => readSettings(SPECS, { colour: 'red' }, {})).toThrow(InvalidSettingError);
    expect(() => readSettings(SPECS, { colour: 'red' }, {})).toThrow(
      'settings.colour: unknown setting; known: on, mode, size, path',
    );
  });
});

describe('selectionOverrides', () => {
  it('reads DSA_BACKEND (trimmed) and DSA_CONFIG, ignoring empty values', () => {
    expect(selectionOverrides({ DSA_BACKEND: ' cuda:1 ', DSA_CONFIG: '/x.json' })).toEqual({
      backend: 'cuda:1',
      configFile: '/x.json',
    });
    expect(selectionOverrides({ DSA_BACKEND: '  ' })).toEqual({});
  });
});
