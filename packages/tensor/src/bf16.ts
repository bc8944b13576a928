// bfloat16 <-> float32. bf16 is the upper 16 bits of an IEEE float32.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Decodes one bf16 bit pattern to a number. */
export function bf16ToFloat(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

/** Encodes a number as bf16 bits, rounding to nearest even (NaN stays NaN). */
export function floatToBf16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x007fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  const rounding = 0x7fff + ((x >>> 16) & 1);
  return ((x + rounding) >>> 16) & 0xffff;
}

/** Decodes `source` (bf16 bits) into `destination` (float32), element by element. */
export function decodeBf16(source: Uint16Array, destination: Float32Array): void {
  const out = new Uint32Array(destination.buffer, destination.byteOffset, destination.length);
  for (let i = 0; i < source.length; i++) out[i] = source[i]! << 16;
}

/** Encodes `source` (float32) into `destination` (bf16 bits), round-to-nearest-even. */
export function encodeBf16(source: Float32Array, destination: Uint16Array): void {
  for (let i = 0; i < source.length; i++) destination[i] = floatToBf16(source[i]!);
}
