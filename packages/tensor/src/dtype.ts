/**
 * Element types a tensor can hold. Names follow the safetensors header spelling, lower-cased.
 * `f8_e4m3` is OCP float8 e4m3fn (max ±448, no infinities, NaN = 0x7f/0xff).
 */
export type DType = 'f64' | 'f32' | 'f16' | 'bf16' | 'f8_e4m3' | 'i64' | 'i32' | 'i16' | 'i8' | 'u8' | 'bool';

/** Every dtype this package knows, in a fixed order. */
export const DTYPES: readonly DType[] = [
  'f64',
  'f32',
  'f16',
  'bf16',
  'f8_e4m3',
  'i64',
  'i32',
  'i16',
  'i8',
  'u8',
  'bool',
];

const BYTES: Record<DType, number> = {
  f64: 8,
  f32: 4,
  f16: 2,
  bf16: 2,
  f8_e4m3: 1,
  i64: 8,
  i32: 4,
  i16: 2,
  i8: 1,
  u8: 1,
  bool: 1,
};

/** Bytes per element of `dtype`. */
export function dtypeBytes(dtype: DType): number {
  return BYTES[dtype];
}

/** True for the floating-point dtypes (including the 8-bit float). */
export function isFloatDType(dtype: DType): boolean {
  return dtype === 'f64' || dtype === 'f32' || dtype === 'f16' || dtype === 'bf16' || dtype === 'f8_e4m3';
}

const SAFETENSORS: Record<string, DType> = {
  F64: 'f64',
  F32: 'f32',
  F16: 'f16',
  BF16: 'bf16',
  F8_E4M3: 'f8_e4m3',
  I64: 'i64',
  I32: 'i32',
  I16: 'i16',
  I8: 'i8',
  U8: 'u8',
  BOOL: 'bool',
};

/** Maps a safetensors header dtype (`"BF16"`, `"F8_E4M3"`, ...) to a {@link DType}; `undefined` if unknown. */
export function dtypeFromSafetensors(name: string): DType | undefined {
  return SAFETENSORS[name];
}

/** The safetensors header spelling of `dtype` (`'bf16'` → `"BF16"`). */
export function dtypeToSafetensors(dtype: DType): string {
  for (const [key, value] of Object.entries(SAFETENSORS)) if (value === dtype) return key;
  throw new Error(`dtype ${dtype} has no safetensors name`);
}
