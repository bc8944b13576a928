import { PyFloat } from './python-float.js';
import type { PyJsonValue } from './python-json.js';

/** A JSON document that Python's `json.loads` would reject; `position` is the UTF-16 offset of the problem. */
export class PyJsonDecodeError extends SyntaxError {
  /** Offset in the text where parsing failed. */
  readonly position: number;
  /** @param position Offset in the text where parsing failed. */
  constructor(message: string, position: number) {
    super(`${message}: char ${position}`);
    this.name = 'PyJsonDecodeError';
    this.position = position;
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/** Deepest nesting of arrays and objects accepted (Python's recursion limit stops near the same depth). */
export const MAX_PY_JSON_DEPTH = 1000;

class Parser {
  readonly #s: string;
  #i = 0;
  #depth = 0;

  constructor(s: string) {
    this.#s = s;
  }

  parseDocument(): PyJsonValue {
    if (this.#s.startsWith('\ufeff')) throw new PyJsonDecodeError('Unexpected UTF-8 BOM', 0);
    this.#ws();
    const value = this.#value();
    this.#ws();
    if (this.#i !== this.#s.length) throw new PyJsonDecodeError('Extra data', this.#i);
    return value;
  }

  #ws(): void {
    WHITESPACE.lastIndex = this.#i;
    WHITESPACE.exec(this.#s);
    this.#i = WHITESPACE.lastIndex;
  }

  #startsWith(word: string): boolean {
    return this.#s.startsWith(word, this.#i);
  }

  #value(): PyJsonValue {
    const c = this.#s[this.#i];
    if (c === '"') return this.#string();
    if (c === '{' || c === '[') {
      // Bounded, so deep nesting is a decode error and not a stack overflow.
      if (++this.#depth > MAX_PY_JSON_DEPTH)
        throw new PyJsonDecodeError(`Nesting deeper than ${MAX_PY_JSON_DEPTH} levels`, this.#i);
      const nested = c === '{' ? this.#object() : this.#array();
      this.#depth--;
      return nested;
    }
    const literals: [string, PyJsonValue][] = [
      ['null', null],
      ['true', true],
      ['false', false],
      ['NaN', new PyFloat(Number.NaN)],
      ['Infinity', new PyFloat(Number.POSITIVE_INFINITY)],
      ['-Infinity', new PyFloat(Number.NEGATIVE_INFINITY)],
    ];
    for (const [word, v] of literals) {
      if (this.#startsWith(word)) {
        this.#i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = this.#i;
    const m = NUMBER.exec(this.#s);
    if (m === null) throw new PyJsonDecodeError('Expecting value', this.#i);
    this.#i = NUMBER.lastIndex;
    if (m[1] !== undefined || m[2] !== undefined) return new PyFloat(Number(m[0]));
    const n = Number(m[0]);
    return Number.isSafeInteger(n) ? (Object.is(n, -0) ? 0 : n) : BigInt(m[0]);
  }

  #string(): string {
    const s = this.#s;
    let i = this.#i + 1;
    let out = '';
    let chunkStart = i;
    for (;;) {
      if (i >= s.length) throw new PyJsonDecodeError('Unterminated string starting at', this.#i);
      const code = s.charCodeAt(i);
      if (code === 0x22) {
        out += s.slice(chunkStart, i);
        this.#i = i + 1;
        return out;
      }
      if (code < 0x20) throw new PyJsonDecodeError('Invalid control character at', i);
      if (code === 0x5c) {
        out += s.slice(chunkStart, i);
        const e = s[i + 1];
        if (e === undefined) throw new PyJsonDecodeError('Unterminated string starting at', this.#i);
        if (e === 'u') {
          const hex = s.slice(i + 2, i + 6);
          if (!HEX4.test(hex)) throw new PyJsonDecodeError('Invalid \\uXXXX escape', i + 1);
          // Python joins an escaped surrogate pair into one character; in UTF-16 that is the same two units.
          out += String.fromCharCode(Number.parseInt(hex, 16));
          i += 6;
        } else {
          const r = SIMPLE_ESCAPES[e];
          if (r === undefined) throw new PyJsonDecodeError('Invalid \\escape', i);
          out += r;
          i += 2;
        }
        chunkStart = i;
        continue;
      }
      i++;
    }
  }

  /** Reads `[` or `{`, then items (each read by `item`) separated by commas, up to `close`. */
  #items(close: ']' | '}', item: () => void): void {
    this.#i++;
    this.#ws();
    if (this.#s[this.#i] === close) {
      this.#i++;
      return;
    }
    for (;;) {
      this.#ws();
      item();
      this.#ws();
      const c = this.#s[this.#i];
      if (c === close) {
        this.#i++;
        return;
      }
      if (c !== ',') throw new PyJsonDecodeError("Expecting ',' delimiter", this.#i);
      this.#i++;
    }
  }

  #array(): PyJsonValue[] {
    const out: PyJsonValue[] = [];
    this.#items(']', () => out.push(this.#value()));
    return out;
  }

  #object(): Map<string, PyJsonValue> {
    const out = new Map<string, PyJsonValue>();
    this.#items('}', () => {
      if (this.#s[this.#i] !== '"') {
        throw new PyJsonDecodeError('Expecting property name enclosed in double quotes', this.#i);
      }
      const key = this.#string();
      this.#ws();
      if (this.#s[this.#i] !== ':') throw new PyJsonDecodeError("Expecting ':' delimiter", this.#i);
      this.#i++;
      this.#ws();
      // A repeated key keeps its first position and takes the last value, as in a Python dict.
      out.set(key, this.#value());
    });
    return out;
  }
}

/**
 * Python's `json.loads`, keeping what JavaScript's `JSON.parse` loses: objects become `Map`s in key order,
 * numbers with a fraction or exponent become {@link PyFloat} (so `1.0` prints back as `1.0`), integers beyond
 * 2^53 become `bigint`, and `NaN` / `Infinity` / `-Infinity` are accepted. Feeding the result to
 * {@link pyJsonDumps} reproduces `json.dumps(json.loads(text), ensure_ascii=False)`.
 * @throws {@link PyJsonDecodeError} where Python would raise `JSONDecodeError`.
 */
export function pyJsonLoads(text: string): PyJsonValue {
  return new Parser(text).parseDocument();
}
