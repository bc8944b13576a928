/**
 * A number that is a Python `float`, so that {@link pyJsonDumps} prints it the way Python does (`1.0`,
 * `1e-05`, `1e+16`) even when its value is a whole number. Plain JavaScript numbers that are whole print as
 * Python `int`s (`1`); {@link pyJsonLoads} returns `PyFloat` for every JSON number written with a fraction or
 * an exponent, as Python's `json.loads` returns a `float` for them.
 */
export class PyFloat {
  /** The float's value. */
  readonly value: number;
  /** @param value The float's value. */
  constructor(value: number) {
    this.value = value;
  }
  /** Python's `repr(float)`. */
  toString(): string {
    return pythonFloatRepr(this.value);
  }
}

/**
 * Python's `repr()` of a float: the shortest digits that round-trip (the same digits JavaScript picks), in
 * fixed notation with at least one fractional digit (`2.0`, `0.0001`) when the decimal exponent is in
 * [-4, 16), otherwise in exponent notation with a signed, at least two-digit exponent (`1e-05`, `1.5e+16`).
 * Non-finite values give `nan`, `inf`, `-inf` (JSON output uses `NaN`/`Infinity` instead; see
 * {@link pyJsonDumps}).
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Number.POSITIVE_INFINITY) return 'inf';
  if (x === Number.NEGATIVE_INFINITY) return '-inf';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const a = Math.abs(x);
  if (a === 0) return `${sign}0.0`;
  // JavaScript's Number::toString gives the shortest round-trip digits, like Python's repr.
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(a));
  if (m === null) throw new Error(`unexpected number format ${String(a)}`);
  const intPart = m[1]!;
  const frac = m[2] ?? '';
  let digits = intPart + frac;
  // value = 0.<digits> × 10^decpt
  let decpt = intPart.length + (m[3] === undefined ? 0 : Number(m[3]));
  const lead = /^0*/.exec(digits)![0].length;
  digits = digits.slice(lead);
  decpt -= lead;
  digits = digits.replace(/0+$/, '');
  if (decpt > 16 || decpt <= -4) {
    const exp = decpt - 1;
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = String(Math.abs(exp)).padStart(2, '0');
    return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}
