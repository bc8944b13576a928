import { PyFloat, pythonFloatRepr } from './python-float.js';

/**
 * A JSON value as Python's `json` module sees it. Objects are `Map`s when the key order must survive exactly
 * (a JavaScript object moves integer-like keys such as `"2"` to the front; a `Map` keeps insertion order, as
 * a Python dict does); integers too large for a double are `bigint`; floats are {@link PyFloat} where the
 * int/float distinction matters. {@link pyJsonDumps} also accepts plain objects, arrays and numbers.
 */
export type PyJsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyFloat
  | readonly PyJsonValue[]
  | ReadonlyMap<string, PyJsonValue>
  | { readonly [key: string]: PyJsonValue | undefined };

// Python's json.encoder ESCAPE / ESCAPE_DCT: the two-character escapes, else \u00XX (lowercase hex).
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * A string as Python's `json.dumps(s, ensure_ascii=False)` writes it: in double quotes, escaping only `"`,
 * `\` and the control characters U+0000–U+001F; every other character (non-ASCII, U+007F, U+2028, lone
 * surrogates) is written as is.
 */
export function pyJsonString(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is escaped
  return `"${s.replace(/["\\\u0000-\u001f]/g, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

function dumpNumber(x: number): string {
  if (Number.isInteger(x)) return BigInt(x).toString();
  return dumpFloat(x);
}

function dumpFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  return pythonFloatRepr(x);
}

/** Python converts dict keys that are not strings: numbers as their repr, booleans and None as JSON. */
function dumpKey(key: unknown): string {
  if (typeof key === 'string') return pyJsonString(key);
  if (typeof key === 'number') return pyJsonString(dumpNumber(key));
  if (typeof key === 'bigint') return pyJsonString(key.toString());
  if (key instanceof PyFloat) return pyJsonString(dumpFloat(key.value));
  if (typeof key === 'boolean') return pyJsonString(key ? 'true' : 'false');
  if (key === null) return '"null"';
  throw new TypeError(`keys must be str, int, float, bool or None, not ${typeof key}`);
}

function dump(value: unknown, stack: Set<object>): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return dumpNumber(value);
    case 'bigint':
      return value.toString();
    case 'string':
      return pyJsonString(value);
    case 'object':
      break;
    default:
      throw new TypeError(`Object of type ${typeof value} is not JSON serializable`);
  }
  if (value instanceof PyFloat) return dumpFloat(value.value);
  if (stack.has(value)) throw new TypeError('Circular reference detected');
  stack.add(value);
  try {
    if (Array.isArray(value)) {
      return `[${value.map((v) => dump(v, stack)).join(', ')}]`;
    }
    const entries: [unknown, unknown][] =
      value instanceof Map ? [...value.entries()] : Object.entries(value as Record<string, unknown>);
    const parts: string[] = [];
    for (const [k, v] of entries) {
      if (v === undefined && !(value instanceof Map)) continue;
      parts.push(`${dumpKey(k)}: ${dump(v, stack)}`);
    }
    return `{${parts.join(', ')}}`;
  } finally {
    stack.delete(value);
  }
}

/**
 * Python's `json.dumps(value, ensure_ascii=False)` with its default separators `", "` and `": "`: keys in
 * insertion order, non-ASCII characters kept, whole JavaScript numbers written as ints (`5`), other numbers
 * and {@link PyFloat}s as Python float reprs (`2.5`, `1.0`, `1e-05`), NaN/±Infinity as `NaN`/`Infinity`,
 * `bigint` as an int. `undefined` object members are left out (as `JSON.stringify` does) and `undefined`
 * elsewhere is `null`.
 * @throws TypeError for values JSON cannot hold (functions, symbols) and for circular structures.
 */
export function pyJsonDumps(value: unknown): string {
  return dump(value, new Set());
}
