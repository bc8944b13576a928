import type { ParsedAssistantMessage, ParsedToolCall, ThinkingMode } from './chat-message.js';
import {
  DSML_MARKERS,
  dsmlToolCall,
  FORBIDDEN_IN_CONTENT,
  matchInvokeName,
  matchParameter,
} from './dsv32-dsml.js';
import { Dsv32ParseError } from './dsv32-parse-error.js';
import { DSV32_TOKENS } from './dsv32-tokens.js';

/**
 * What {@link CompletionStreamParser.push} reports: a piece of thinking text, a piece of answer text, or a
 * complete tool call (`index` counts the calls of the message from 0).
 */
export type CompletionStreamEvent =
  | {
      /** Thinking text. */
      readonly kind: 'reasoning_content';
      /** The next piece of it. */
      readonly text: string;
    }
  | {
      /** Answer text. */
      readonly kind: 'content';
      /** The next piece of it. */
      readonly text: string;
    }
  | {
      /** A complete tool call. */
      readonly kind: 'tool_calls';
      /** Position of the call in the message, from 0. */
      readonly index: number;
      /** The parsed call. */
      readonly toolCall: ParsedToolCall;
    };

const { bos, eos, thinkingStart, thinkingEnd, dsml } = DSV32_TOKENS;
const { toolCallsStart, toolCallsEnd, invokeStart, invokeEnd, parameterStart, parameterEnd } = DSML_MARKERS;

const REASONING_STOPS = [thinkingEnd, toolCallsStart];
const REASONING_FORBIDDEN = [bos, eos, thinkingStart, dsml];
const SUMMARY_STOPS = [eos, toolCallsStart];
const SUMMARY_FORBIDDEN = [bos, thinkingStart, thinkingEnd, dsml];

type Phase =
  | 'reasoning'
  | 'summary'
  | 'toolsHead'
  | 'invokeName'
  | 'parameter'
  | 'parameterTail'
  | 'afterTools'
  | 'end';

interface Scan {
  /** The stop found, once it is certain that no earlier (or earlier-listed) stop can still appear. */
  readonly stop: string | undefined;
  /** Where the stop starts (when found). */
  readonly pos: number;
  /** Text before this offset is certainly not part of any stop. */
  readonly safe: number;
}

/** Earliest `q >= from` where the rest of `buf` is a proper prefix of `s` (the start of `s`, cut off), or -1. */
function partialStart(buf: string, from: number, s: string): number {
  for (let q = Math.max(from, buf.length - s.length + 1); q < buf.length; q++) {
    if (s.startsWith(buf.slice(q))) return q;
  }
  return -1;
}

/**
 * The reference's "earliest of these stops" search on a text that may still grow. With `final` the text is
 * complete. Otherwise a stop found at `pos` counts only when no stop could still complete at an earlier
 * position (or at the same position for a stop listed first, which wins ties).
 */
function scanStops(buf: string, from: number, stops: readonly string[], final: boolean): Scan {
  let pos = -1;
  let found = -1;
  stops.forEach((s, i) => {
    const p = buf.indexOf(s, from);
    if (p !== -1 && (pos === -1 || p < pos)) {
      pos = p;
      found = i;
    }
  });
  if (final)
    return found === -1 ? { stop: undefined, pos, safe: buf.length } : { stop: stops[found], pos, safe: pos };
  let safe = buf.length;
  let blocked = false;
  stops.forEach((s, i) => {
    const q = partialStart(buf, from, s);
    if (q === -1) return;
    safe = Math.min(safe, q);
    if (found !== -1 && (q < pos || (q === pos && i < found))) blocked = true;
  });
  if (found !== -1 && !blocked) return { stop: stops[found], pos, safe: pos };
  return { stop: undefined, pos: -1, safe: found === -1 ? safe : Math.min(safe, pos) };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Incremental parser for a streamed DeepSeek-V3.2 completion. Feed the generated text as it is decoded;
 * {@link push} returns the reasoning text, answer text and tool calls that have become certain. Text that
 * might still turn out to be markup (`</thi`, `\n\n<｜DSML｜`, `<｜end▁of`, ...) is held back until it is
 * resolved, so nothing emitted is ever markup, and emitted text is always a prefix of the final
 * `reasoning_content` / `content`. A tool call is reported once its `</｜DSML｜invoke` is seen.
 *
 * The parser follows {@link parseMessageFromCompletionText} step by step: {@link finish} returns exactly
 * what that function returns for the whole text, however the text was cut into pieces, and throws the same
 * {@link Dsv32ParseError} where it throws. Once the text is certain to be malformed, `push` reports nothing
 * more.
 */
export class CompletionStreamParser {
  /** The mode the prompt was encoded in. */
  readonly thinkingMode: ThinkingMode;
  #phase: Phase;
  /** Text received but not consumed yet. */
  #buf = '';
  /** In the tool-call phases: no stop starts in `#buf` before this offset. */
  #scanFrom = 0;
  #reasoning = '';
  #content = '';
  #toolCalls: ParsedToolCall[] = [];
  #invokeName = '';
  #args = new Map<string, { value: string; isString: boolean }>();
  /** The text is certainly malformed: `finish` will throw, so nothing more is reported. */
  #doomed = false;
  #error: Dsv32ParseError | undefined;
  #result: ParsedAssistantMessage | undefined;
  #ended = false;

  /** @param thinkingMode The mode the prompt was encoded in (`thinking`: the text starts with reasoning). */
  constructor(thinkingMode: ThinkingMode) {
    this.thinkingMode = thinkingMode;
    this.#phase = thinkingMode === 'thinking' ? 'reasoning' : 'summary';
  }

  /** Add the next piece of completion text; returns what became certain (in text order). */
  push(textDelta: string): CompletionStreamEvent[] {
    if (this.#ended) throw new Error('CompletionStreamParser.push after flush or finish');
    if (this.#error !== undefined) return [];
    this.#buf += textDelta;
    const events: CompletionStreamEvent[] = [];
    this.#run(false, events);
    return events;
  }

  /**
   * End of the completion: resolves what was held back and returns the last events. Text is never released
   * here (a completion that ends inside its reasoning or answer is malformed), but a tool call can be: the
   * reference accepts a completion cut off after an invoke's name or last parameter. Does not throw; call
   * {@link finish} for the message. Calling it again returns nothing.
   */
  flush(): CompletionStreamEvent[] {
    if (this.#ended) return [];
    this.#ended = true;
    const events: CompletionStreamEvent[] = [];
    if (this.#error === undefined) this.#run(true, events);
    return events;
  }

  /**
   * End of the completion: returns the parsed message, equal to
   * `parseMessageFromCompletionText(wholeText, thinkingMode)`. Calls {@link flush} first if it was not called
   * (dropping its events).
   * @throws {@link Dsv32ParseError} where that function throws, with the same message.
   */
  finish(): ParsedAssistantMessage {
    if (this.#result !== undefined) return this.#result;
    this.flush();
    if (this.#error === undefined) {
      for (const token of FORBIDDEN_IN_CONTENT) {
        if (this.#content.includes(token) || this.#reasoning.includes(token)) {
          this.#fail('Unexpected special token in content');
          break;
        }
      }
    }
    if (this.#error !== undefined) throw this.#error;
    this.#result = {
      role: 'assistant',
      content: this.#content,
      reasoning_content: this.#reasoning,
      reasoning: this.#reasoning,
      tool_calls: this.#toolCalls,
    };
    return this.#result;
  }

  #fail(message: string): void {
    this.#error ??= new Dsv32ParseError(message);
    this.#doomed = true;
  }

  #run(final: boolean, events: CompletionStreamEvent[]): void {
    while (this.#error === undefined && this.#step(final, events)) {
      // each step consumes text or changes phase
    }
  }

  /** One step of the state machine; false when it needs more text (or, at the end, when it is done). */
  #step(final: boolean, events: CompletionStreamEvent[]): boolean {
    switch (this.#phase) {
      case 'reasoning': {
        const r = this.#readText(final, REASONING_STOPS, REASONING_FORBIDDEN, 'reasoning_content', events);
        if (r === 'pending') return false;
        if (r !== thinkingEnd) {
          this.#fail('Invalid thinking format');
          return false;
        }
        this.#phase = 'summary';
        return true;
      }
      case 'summary': {
        const r = this.#readText(final, SUMMARY_STOPS, SUMMARY_FORBIDDEN, 'content', events);
        if (r === 'pending') return false;
        if (r === toolCallsStart) this.#phase = 'toolsHead';
        else if (r === eos) this.#phase = 'end';
        else {
          this.#fail('Invalid summary format');
          return false;
        }
        return true;
      }
      case 'toolsHead': {
        if (this.#buf.length === 0) {
          if (!final) return false;
          this.#phase = 'afterTools';
          return true;
        }
        const r = this.#read(final, [invokeStart, toolCallsEnd]);
        if (r === 'pending') return false;
        if (r.content !== '>\n') return this.#stop('Tool call format error');
        if (r.stop === toolCallsEnd) this.#phase = 'afterTools';
        else if (r.stop === undefined) return this.#stop('Missing special token');
        else this.#phase = 'invokeName';
        return true;
      }
      case 'invokeName': {
        const r = this.#read(final, [parameterStart, invokeEnd]);
        if (r === 'pending') return false;
        const name = matchInvokeName(r.content);
        if (name === undefined) return this.#stop('Tool name format error');
        this.#invokeName = name;
        this.#args = new Map();
        return this.#parameterOrEndInvoke(r.stop, events);
      }
      case 'parameter': {
        const r = this.#read(final, [parameterEnd]);
        if (r === 'pending') return false;
        const param = matchParameter(r.content);
        if (param === undefined) return this.#stop('Parameter format error');
        if (this.#args.has(param.name)) return this.#stop('Duplicate parameter name');
        this.#args.set(param.name, { value: param.value, isString: param.isString });
        this.#phase = 'parameterTail';
        return true;
      }
      case 'parameterTail': {
        const r = this.#read(final, [parameterStart, invokeEnd]);
        if (r === 'pending') return false;
        if (r.content !== '>\n') return this.#stop('Parameter format error');
        return this.#parameterOrEndInvoke(r.stop, events);
      }
      case 'afterTools': {
        const r = this.#read(final, [eos]);
        if (r === 'pending') return false;
        if (r.content !== '') return this.#stop('Unexpected content after tool calls');
        this.#phase = 'end';
        return true;
      }
      case 'end':
        if (this.#buf.length > 0) this.#fail('Unexpected content at end');
        return false;
    }
  }

  #stop(message: string): false {
    this.#fail(message);
    return false;
  }

  /** After an invoke's name or one of its parameters, read up to `stop`: another parameter, or the invoke's end. */
  #parameterOrEndInvoke(stop: string | undefined, events: CompletionStreamEvent[]): true {
    if (stop === parameterStart) this.#phase = 'parameter';
    else this.#endInvoke(events);
    return true;
  }

  #endInvoke(events: CompletionStreamEvent[]): void {
    const call = dsmlToolCall(this.#invokeName, this.#args);
    this.#toolCalls.push(call);
    if (!this.#doomed) events.push({ kind: 'tool_calls', index: this.#toolCalls.length - 1, toolCall: call });
    this.#phase = 'toolsHead';
  }

  /**
   * A structural read: waits until the earliest stop is certain (or the text is complete), then consumes the
   * text up to and including it.
   */
  #read(final: boolean, stops: readonly string[]): { content: string; stop: string | undefined } | 'pending' {
    const s = scanStops(this.#buf, this.#scanFrom, stops, final);
    if (s.stop === undefined && !final) {
      this.#scanFrom = s.safe;
      return 'pending';
    }
    const end = s.stop === undefined ? this.#buf.length : s.pos;
    const content = this.#buf.slice(0, end);
    this.#buf = this.#buf.slice(end + (s.stop?.length ?? 0));
    this.#scanFrom = 0;
    return { content, stop: s.stop };
  }

  /**
   * A text read (reasoning or answer): consumes and reports text as soon as it is certainly not the start of
   * a stop or of a forbidden marker; returns the stop once reached (undefined when the text ended without
   * one), or 'pending'.
   */
  #readText(
    final: boolean,
    stops: readonly string[],
    forbidden: readonly string[],
    kind: 'reasoning_content' | 'content',
    events: CompletionStreamEvent[],
  ): string | undefined | 'pending' {
    const buf = this.#buf;
    const s = scanStops(buf, 0, stops, final);
    const segmentEnds = s.stop !== undefined || final;
    const regionEnd = s.stop !== undefined ? s.pos : final ? buf.length : s.safe;
    // Text that ends without its stop is malformed (the caller reports it): release nothing more.
    if (final && s.stop === undefined) this.#doomed = true;
    let emitEnd = regionEnd;
    if (!this.#doomed) {
      let forbiddenAt = -1;
      for (const f of forbidden) {
        const p = buf.indexOf(f);
        if (p !== -1 && p + f.length <= regionEnd && (forbiddenAt === -1 || p < forbiddenAt)) forbiddenAt = p;
      }
      let hold = regionEnd;
      if (!segmentEnds) {
        const longest = Math.max(...forbidden.map((f) => f.length));
        for (let q = Math.max(0, regionEnd - longest + 1); q < regionEnd && hold === regionEnd; q++) {
          const tail = buf.slice(q, regionEnd);
          if (forbidden.some((f) => f.length > tail.length && f.startsWith(tail))) hold = q;
        }
      }
      if (forbiddenAt !== -1 && forbiddenAt <= hold) {
        emitEnd = forbiddenAt;
        this.#doomed = true;
      } else {
        emitEnd = hold;
        if (!segmentEnds && emitEnd > 0 && isHighSurrogate(buf.charCodeAt(emitEnd - 1))) emitEnd--;
      }
      if (emitEnd > 0) {
        const text = buf.slice(0, emitEnd);
        const last = events[events.length - 1];
        if (last !== undefined && last.kind !== 'tool_calls' && last.kind === kind) {
          events[events.length - 1] = { kind, text: last.text + text };
        } else events.push({ kind, text });
      }
    }
    const consumeEnd = this.#doomed ? regionEnd : emitEnd;
    const consumed = buf.slice(0, consumeEnd);
    if (kind === 'reasoning_content') this.#reasoning += consumed;
    else this.#content += consumed;
    if (!segmentEnds) {
      this.#buf = buf.slice(consumeEnd);
      return 'pending';
    }
    this.#buf = buf.slice(regionEnd + (s.stop?.length ?? 0));
    return s.stop;
  }
}
