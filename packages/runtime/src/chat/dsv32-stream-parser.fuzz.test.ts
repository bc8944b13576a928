import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fuzzCorpus, fuzzSettings } from '@dsa/backend/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ParsedAssistantMessage, ThinkingMode } from './chat-message.js';
import { Dsv32ParseError } from './dsv32-parse-error.js';
import { parseMessageFromCompletionText } from './dsv32-parser.js';
import { CompletionStreamParser } from './dsv32-stream-parser.js';
import { DSV32_TOKENS } from './dsv32-tokens.js';

const settings = fuzzSettings();
const root = path.resolve(import.meta.dirname, '../../../..');
const corpus = path.join(root, 'tests/fuzz-corpus/dsml');
const cases = (
  JSON.parse(readFileSync(path.join(root, 'fixtures/chat/deepseek-v32-encoding.json'), 'utf8')) as {
    parse_cases: { thinking_mode: ThinkingMode; text: string }[];
  }
).parse_cases;

/** Pieces of DeepSeek-V3.2 output markup, so random texts are near misses of real completions. */
const markup = fc.constantFrom(
  ...Object.values(DSV32_TOKENS),
  '\n\n<｜DSML｜function_calls>\n',
  '</｜DSML｜function_calls>',
  '<｜DSML｜invoke name="f">\n',
  '</｜DSML｜invoke>\n',
  '<｜DSML｜parameter name="x" string="true">',
  '<｜DSML｜parameter name="y" string="false">',
  '</｜DSML｜parameter>\n',
  '{"a": [1, 2.0]}',
  '[[[[',
  '"',
);

/** A completion: a real one from the fixture with edits, or markup and text mixed at random. */
const completion = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(...cases),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 6 }), fc.oneof(markup, fc.string({ maxLength: 3 }))), {
        maxLength: 3,
      }),
    )
    .map(([c, edits]) => ({
      mode: c.thinking_mode,
      text: edits.reduce((t, [at, cut, insert]) => {
        const i = at % (t.length + 1);
        return t.slice(0, i) + insert + t.slice(i + cut);
      }, c.text),
    })),
  fc.record({
    mode: fc.constantFrom<ThinkingMode>('chat', 'thinking'),
    text: fc.array(fc.oneof(markup, fc.string({ maxLength: 6 })), { maxLength: 12 }).map((p) => p.join('')),
  }),
);

type Outcome = { ok: ParsedAssistantMessage } | { error: string };
const outcomes = { parsed: 0, refused: 0 };

function outcome(run: () => ParsedAssistantMessage): Outcome {
  try {
    return { ok: run() };
  } catch (error) {
    expect(error).toBeInstanceOf(Dsv32ParseError);
    return { error: (error as Error).message };
  }
}

/**
 * Property: streamed in any pieces, the parser ends exactly as the whole-text parser does (same message, or
 * the same Dsv32ParseError), reports only text that is a prefix of the final one, and never throws anything else.
 */
function check(input: { mode: ThinkingMode; text: string }, cuts: number[]): void {
  const parser = new CompletionStreamParser(input.mode);
  const points = [...new Set(cuts.map((c) => c % (input.text.length + 1)))].sort((a, b) => a - b);
  let content = '';
  let from = 0;
  for (const at of [...points, input.text.length]) {
    for (const e of parser.push(input.text.slice(from, at))) if (e.kind === 'content') content += e.text;
    from = at;
  }
  for (const e of parser.flush()) if (e.kind === 'content') content += e.text;
  const streamed = outcome(() => parser.finish());
  expect(streamed).toEqual(outcome(() => parseMessageFromCompletionText(input.text, input.mode)));
  if ('ok' in streamed) expect(streamed.ok.content.startsWith(content)).toBe(true);
  outcomes['ok' in streamed ? 'parsed' : 'refused']++;
}

describe('CompletionStreamParser on hostile completions (property)', () => {
  it(
    'matches the whole-text parser however the text is cut, throwing only Dsv32ParseError',
    () => {
      fc.assert(fc.property(completion, fc.array(fc.nat(), { maxLength: 8 }), check), {
        numRuns: settings.numRuns,
        seed: settings.seed,
      });
      expect(outcomes.parsed).toBeGreaterThan(settings.numRuns / 20);
      expect(outcomes.refused).toBeGreaterThan(settings.numRuns / 20);
    },
    settings.timeoutMs,
  );

  for (const entry of fuzzCorpus(corpus)) {
    it(`corpus: ${entry.name}`, () => {
      const { mode, text, cuts } = JSON.parse(Buffer.from(entry.bytes).toString('utf8'));
      check({ mode, text }, cuts ?? []);
    });
  }
});
