import * as path from 'node:path';
import { fuzzCorpus, fuzzSettings } from '@dsa/backend/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pyJsonDumps } from './python-json.js';
import { PyJsonDecodeError, pyJsonLoads } from './python-json-parse.js';

const settings = fuzzSettings();
const corpus = path.resolve(import.meta.dirname, '../../../../tests/fuzz-corpus/python-json');

/** JSON texts: valid ones, valid ones with a splice, Python's extras, deep nesting, or any string. */
const text = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.nat(),
        fc.nat({ max: 3 }),
        fc.string({ maxLength: 3 }),
      )
      .map(
        ([t, at, cut, insert]) =>
          t.slice(0, at % (t.length + 1)) + insert + t.slice((at % (t.length + 1)) + cut),
      ),
  },
  fc.constantFrom(
    'NaN',
    '-Infinity',
    '[1.0, 1e400, -0.0]',
    '9007199254740993',
    '"\\ud800"',
    '{"a": 1, "a": 2}',
  ),
  fc
    .tuple(fc.constantFrom('[', '{"a":', '[{"b":'), fc.integer({ min: 1, max: 50_000 }))
    .map(([open, depth]) => open.repeat(depth)),
  fc.string({ maxLength: 16 }),
);

/** Property: parses (and then prints back to text that parses to the same print), or throws PyJsonDecodeError. */
function check(input: string): void {
  let value: ReturnType<typeof pyJsonLoads>;
  try {
    value = pyJsonLoads(input);
  } catch (error) {
    expect(error).toBeInstanceOf(PyJsonDecodeError);
    const e = error as PyJsonDecodeError;
    expect(e.position >= 0 && e.position <= input.length).toBe(true);
    return;
  }
  const printed = pyJsonDumps(value);
  expect(pyJsonDumps(pyJsonLoads(printed))).toBe(printed);
}

describe('pyJsonLoads / pyJsonDumps on hostile text (property)', () => {
  it(
    'parses and round-trips, or throws PyJsonDecodeError with a position inside the text',
    () => {
      fc.assert(fc.property(text, check), { numRuns: settings.numRuns, seed: settings.seed });
    },
    settings.timeoutMs,
  );

  it(
    'every JSON.stringify output parses, and prints back as Python would read it',
    () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          const parsed = pyJsonLoads(JSON.stringify(value));
          expect(
            JSON.parse(JSON.stringify(JSON.parse(pyJsonDumps(parsed).replace(/\bNaN\b/g, 'null')))),
          ).toEqual(JSON.parse(JSON.stringify(value)));
        }),
        { numRuns: settings.numRuns, seed: settings.seed },
      );
    },
    settings.timeoutMs,
  );

  for (const entry of fuzzCorpus(corpus)) {
    it(`corpus: ${entry.name}`, () => check(Buffer.from(entry.bytes).toString('utf8')));
  }
});
