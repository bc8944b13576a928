import { Random } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import type { ParsedAssistantMessage, ParsedToolCall, ThinkingMode } from './chat-message.js';
import { PARSE_CASES } from './dsv32-parse-cases.js';
import { parseMessageFromCompletionText } from './dsv32-parser.js';
import { type CompletionStreamEvent, CompletionStreamParser } from './dsv32-stream-parser.js';
import { DSV32_TOKENS } from './dsv32-tokens.js';

const fixture = { parse_cases: PARSE_CASES };

const MARKUP = [
  DSV32_TOKENS.bos,
  DSV32_TOKENS.eos,
  DSV32_TOKENS.thinkingStart,
  DSV32_TOKENS.thinkingEnd,
  DSV32_TOKENS.dsml,
];

interface Run {
  /** Concatenated text events, per kind, after each push. */
  reasoningSteps: string[];
  contentSteps: string[];
  toolCalls: ParsedToolCall[];
  outcome: { ok: ParsedAssistantMessage } | { error: string };
}

/** Stream `pieces` through a parser and record everything it reports. */
function run(pieces: readonly string[], mode: ThinkingMode): Run {
  const p = new CompletionStreamParser(mode);
  let reasoning = '';
  let content = '';
  const r: Run = { reasoningSteps: [], contentSteps: [], toolCalls: [], outcome: { error: '' } };
  const take = (events: CompletionStreamEvent[]): void => {
    for (const e of events) {
      if (e.kind === 'reasoning_content') reasoning += e.text;
      else if (e.kind === 'content') content += e.text;
      else {
        expect(e.index).toBe(r.toolCalls.length);
        r.toolCalls.push(e.toolCall);
      }
    }
    r.reasoningSteps.push(reasoning);
    r.contentSteps.push(content);
  };
  for (const piece of pieces) take(p.push(piece));
  take(p.flush());
  try {
    r.outcome = { ok: p.finish() };
  } catch (e) {
    r.outcome = { error: (e as Error).message };
  }
  return r;
}

function strict(text: string, mode: ThinkingMode): Run['outcome'] {
  try {
    return { ok: parseMessageFromCompletionText(text, mode) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Split into pieces of `size` code points (whole characters, as a stream decoder delivers them). */
function chunksByCodePoint(text: string, size: number): string[] {
  const cps = [...text];
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += size) out.push(cps.slice(i, i + size).join(''));
  return out;
}

/** Split into pieces of `size` UTF-16 units (may cut surrogate pairs). */
function chunksByUnit(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** Check a successful run: the final message, and that every intermediate report was a prefix of it. */
function expectConsistent(r: Run, expected: ParsedAssistantMessage): void {
  expect(r.outcome).toEqual({ ok: expected });
  for (const s of r.reasoningSteps) expect(expected.reasoning_content.startsWith(s)).toBe(true);
  for (const s of r.contentSteps) expect(expected.content.startsWith(s)).toBe(true);
  expect(r.reasoningSteps.at(-1)).toBe(expected.reasoning_content);
  expect(r.contentSteps.at(-1)).toBe(expected.content);
  expect(r.toolCalls).toEqual(expected.tool_calls);
}

/** A small deterministic PRNG (the tensor package's mulberry32) for the mutation tests. */
function rng(seed: number): () => number {
  const r = new Random(seed);
  return () => r.next();
}

describe('CompletionStreamParser on the fixture parse cases', () => {
  const sizes = [1, 2, 3, 7, Number.POSITIVE_INFINITY];
  for (const c of fixture.parse_cases) {
    it.each(sizes)(`${c.name}: chunks of %d code points`, (size) => {
      const pieces = size === Number.POSITIVE_INFINITY ? [c.text] : chunksByCodePoint(c.text, size);
      expectConsistent(run(pieces, c.thinking_mode), c.result);
      expect(run(pieces, c.thinking_mode).outcome).toEqual(strict(c.text, c.thinking_mode));
    });
  }

  it('gives the same result for chunks of UTF-16 units and never reports half a surrogate pair', () => {
    for (const c of fixture.parse_cases) {
      for (const size of [1, 2, 5]) {
        const r = run(chunksByUnit(c.text, size), c.thinking_mode);
        expectConsistent(r, c.result);
        for (const s of [...r.reasoningSteps, ...r.contentSteps]) expect(s).not.toMatch(/[\ud800-\udbff]$/);
      }
    }
  });

  it('gives the same result for every split of each text into two pieces', () => {
    for (const c of fixture.parse_cases) {
      for (let i = 0; i <= c.text.length; i++) {
        expectConsistent(run([c.text.slice(0, i), c.text.slice(i)], c.thinking_mode), c.result);
      }
    }
  });

  it('reports events as they become certain', () => {
    const c = fixture.parse_cases.find((x) => x.name === 'thinking_two_invokes')!;
    const p = new CompletionStreamParser('thinking');
    expect(p.push('Need weather for two cities.</thi')).toEqual([
      { kind: 'reasoning_content', text: 'Need weather for two cities.' },
    ]);
    expect(p.push('nk>Checking both.\n')).toEqual([{ kind: 'content', text: 'Checking both.' }]);
    const rest = c.text.slice('Need weather for two cities.</think>Checking both.\n'.length);
    const firstInvokeEnd = rest.indexOf('</｜DSML｜invoke>') + '</｜DSML｜invoke'.length;
    expect(p.push(rest.slice(0, firstInvokeEnd - 1))).toEqual([]);
    expect(p.push(rest.slice(firstInvokeEnd - 1, firstInvokeEnd))).toEqual([
      { kind: 'tool_calls', index: 0, toolCall: c.result.tool_calls[0] },
    ]);
    expect(p.push(rest.slice(firstInvokeEnd))).toEqual([
      { kind: 'tool_calls', index: 1, toolCall: c.result.tool_calls[1] },
    ]);
    expect(p.flush()).toEqual([]);
    expect(p.finish()).toEqual(c.result);
  });

  it('holds back text that may be the start of markup, and releases it when it is not', () => {
    const p = new CompletionStreamParser('chat');
    expect(p.push('a <')).toEqual([{ kind: 'content', text: 'a ' }]);
    expect(p.push('b> c\n')).toEqual([{ kind: 'content', text: '<b> c' }]);
    expect(p.push('\n<｜DS')).toEqual([]);
    // `｜DSML｜` in the answer is forbidden: the completion is malformed. The text before it is reported, the
    // marker and everything after it never are.
    expect(p.push('ML｜x')).toEqual([{ kind: 'content', text: '\n\n<' }]);
    expect(p.push('<｜end▁of▁sentence｜>')).toEqual([]);
    expect(() => p.finish()).toThrow('Unexpected special token in content');
  });
});

describe('CompletionStreamParser agrees with the strict parser on malformed text', () => {
  const snippets = [
    DSV32_TOKENS.thinkingEnd,
    DSV32_TOKENS.thinkingStart,
    DSV32_TOKENS.eos,
    DSV32_TOKENS.bos,
    DSV32_TOKENS.dsml,
    '\n\n<｜DSML｜function_calls>\n',
    '<｜DSML｜invoke name="x">\n',
    '<｜DSML｜parameter name="k" string="true">v</｜DSML｜parameter>\n',
    '</｜DSML｜invoke>\n',
    '</｜DSML｜function_calls>',
    '>\n',
    '\n',
    '<',
    '</thi',
    '😀',
  ];

  it('on every prefix of every fixture text, in both modes', () => {
    for (const c of fixture.parse_cases) {
      for (const mode of ['chat', 'thinking'] as const) {
        for (let i = 0; i <= c.text.length; i++) {
          const text = c.text.slice(0, i);
          const want = strict(text, mode);
          for (const size of [1, 4]) {
            const r = run(chunksByUnit(text, size), mode);
            expect(r.outcome).toEqual(want);
            if ('ok' in want) expectConsistent(r, want.ok);
          }
        }
      }
    }
  });

  it('on random mutations of the fixture texts, never reporting markup', () => {
    const random = rng(20251201);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    let failures = 0;
    for (let n = 0; n < 3000; n++) {
      const c = pick(fixture.parse_cases);
      const mode = pick(['chat', 'thinking'] as const);
      let text = c.text;
      const edits = 1 + Math.floor(random() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * (text.length + 1));
        if (random() < 0.6) text = text.slice(0, at) + pick(snippets) + text.slice(at);
        else text = text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 6));
      }
      const want = strict(text, mode);
      if ('error' in want) failures++;
      const r = run(chunksByUnit(text, 1 + Math.floor(random() * 8)), mode);
      expect(r.outcome).toEqual(want);
      if ('ok' in want) expectConsistent(r, want.ok);
      const reported = `${r.reasoningSteps.at(-1)}\u0000${r.contentSteps.at(-1)}`;
      for (const m of MARKUP) expect(reported).not.toContain(m);
    }
    // Most mutations break the format; both parsers must say so identically.
    expect(failures).toBeGreaterThan(1000);
  });

  it('rejects push after finish', () => {
    const p = new CompletionStreamParser('chat');
    p.push('hi<｜end▁of▁sentence｜>');
    expect(p.finish().content).toBe('hi');
    expect(p.finish().content).toBe('hi');
    expect(() => p.push('x')).toThrow(/after flush or finish/);
  });

  it('reports a tool call cut off before its close tag at flush, as the reference accepts it', () => {
    const p = new CompletionStreamParser('chat');
    expect(p.push('\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="x">\n')).toEqual([]);
    expect(p.flush()).toEqual([
      {
        kind: 'tool_calls',
        index: 0,
        toolCall: { type: 'function', function: { name: 'x', arguments: '{}' } },
      },
    ]);
    expect(p.finish().tool_calls).toHaveLength(1);
  });
});
