import { describe, expect, it } from 'vitest';
import { PyFloat, pythonFloatRepr } from './python-float.js';
import { pyJsonDumps, pyJsonString } from './python-json.js';
import { PyJsonDecodeError, pyJsonLoads } from './python-json-parse.js';

// Expected strings below were produced by CPython 3.11 (`repr(x)`, `json.dumps(x, ensure_ascii=False)`).
describe('pythonFloatRepr', () => {
  const cases: [number, string][] = [
    [1.0, '1.0'],
    [1e-5, '1e-05'],
    [5e-5, '5e-05'],
    [1e-4, '0.0001'],
    [0.00012345, '0.00012345'],
    [1e15, '1000000000000000.0'],
    [1234567890123456.0, '1234567890123456.0'],
    [9999999999999998.0, '9999999999999998.0'],
    [1e16, '1e+16'],
    [1e22, '1e+22'],
    [123456789012345680000.0, '1.2345678901234568e+20'],
    [0.1 + 0.2, '0.30000000000000004'],
    [-0.0, '-0.0'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [-1.5e-7, '-1.5e-07'],
    [2.5, '2.5'],
    [100.0, '100.0'],
    [12345.678, '12345.678'],
    [Number.NaN, 'nan'],
    [Number.POSITIVE_INFINITY, 'inf'],
    [Number.NEGATIVE_INFINITY, '-inf'],
  ];
  it.each(cases)('repr(%d) is %s', (x, expected) => {
    expect(pythonFloatRepr(x)).toBe(expected);
    expect(new PyFloat(x).toString()).toBe(expected);
  });
});

describe('pyJsonDumps', () => {
  it('uses Python separators, insertion order and int/float formatting', () => {
    expect(pyJsonDumps({ b: 1, a: [1, 2.5, true, false, null], c: { d: 'x' } })).toBe(
      '{"b": 1, "a": [1, 2.5, true, false, null], "c": {"d": "x"}}',
    );
    expect(pyJsonDumps([new PyFloat(1), new PyFloat(1e-5), 1e-5, 1e16, 12345678901234567890n])).toBe(
      '[1.0, 1e-05, 1e-05, 10000000000000000, 12345678901234567890]',
    );
    expect(pyJsonDumps([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0])).toBe(
      '[NaN, Infinity, -Infinity, 0]',
    );
    expect(pyJsonDumps({})).toBe('{}');
    expect(pyJsonDumps([])).toBe('[]');
    expect(pyJsonDumps({ a: undefined, b: [undefined] })).toBe('{"b": [null]}');
  });

  it('keeps Map key order, including integer-like keys', () => {
    const m = new Map<string, unknown>([
      ['b', 1],
      ['2', null],
      ['1', true],
    ]);
    expect(pyJsonDumps(m)).toBe('{"b": 1, "2": null, "1": true}');
    expect(
      pyJsonDumps(
        new Map<unknown, unknown>([
          [1, 4],
          [new PyFloat(2.5), 3],
          [null, 5],
        ]),
      ),
    ).toBe('{"1": 4, "2.5": 3, "null": 5}');
  });

  it('escapes strings as ensure_ascii=False does', () => {
    const s = 'q"b\\s\u0000\u0001\u001f\u007f\u2028é😀\n\r\t\b\f/';
    expect(pyJsonString(s)).toBe('"q\\"b\\\\s\\u0000\\u0001\\u001f\u007f\u2028é😀\\n\\r\\t\\b\\f/"');
    expect(pyJsonDumps(s)).toBe(pyJsonString(s));
    expect(pyJsonDumps('中文 ☀️')).toBe('"中文 ☀️"');
  });

  it('rejects what Python cannot serialize', () => {
    const a: unknown[] = [];
    a.push(a);
    expect(() => pyJsonDumps(a)).toThrow(/Circular/);
    expect(() => pyJsonDumps(() => 1)).toThrow(TypeError);
    expect(() => pyJsonDumps(Symbol('x'))).toThrow(TypeError);
  });
});

describe('pyJsonLoads', () => {
  it('round-trips as json.dumps(json.loads(s), ensure_ascii=False)', () => {
    const src =
      '{"b": 1, "a": [1.0, 2.50, 1E5, -0, 12345678901234567890, 1e400, NaN, -Infinity, 0.1e1, -0.0], "2": null, "1": true, "b": "dup", "s": "\\ud83d\\ude00 \\u00e9 \\/"}';
    expect(pyJsonDumps(pyJsonLoads(src))).toBe(
      '{"b": "dup", "a": [1.0, 2.5, 100000.0, 0, 12345678901234567890, Infinity, NaN, -Infinity, 1.0, -0.0], "2": null, "1": true, "s": "😀 é /"}',
    );
  });

  it('returns Maps, PyFloats and bigints', () => {
    const v = pyJsonLoads(' {"x": [1, 1.5, 9007199254740993]} ');
    expect(v).toBeInstanceOf(Map);
    const arr = (v as Map<string, unknown>).get('x') as unknown[];
    expect(arr[0]).toBe(1);
    expect(arr[1]).toBeInstanceOf(PyFloat);
    expect(arr[2]).toBe(9007199254740993n);
    expect(pyJsonLoads('"a\\tb"')).toBe('a\tb');
  });

  it.each([
    ['', 'Expecting value'],
    ['{"a": 1,}', 'Expecting property name'],
    ['[1, 2', "Expecting ',' delimiter"],
    ['01', 'Extra data'],
    ['1.', 'Extra data'],
    ['"a\nb"', 'Invalid control character'],
    ['"\\x"', 'Invalid \\escape'],
    ["{'a': 1}", 'Expecting property name'],
    ['\ufeff1', 'Unexpected UTF-8 BOM'],
    ['"abc', 'Unterminated string'],
  ])('rejects %j (%s)', (src, message) => {
    expect(() => pyJsonLoads(src)).toThrow(PyJsonDecodeError);
    expect(() => pyJsonLoads(src)).toThrow(message);
  });
});
