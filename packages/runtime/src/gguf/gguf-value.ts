/** The first four bytes of a GGUF file. */
export const GGUF_MAGIC = 'GGUF';

/** The GGUF version this package writes (it reads 2 and 3, which differ only in being 64-bit counted). */
export const GGUF_VERSION = 3;

/** Tensor data alignment when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value types, by the number GGUF stores (`gguf_type` in gguf.h). */
export const GGUF_VALUE_TYPES = [
  'u8',
  'i8',
  'u16',
  'i16',
  'u32',
  'i32',
  'f32',
  'bool',
  'string',
  'array',
  'u64',
  'i64',
  'f64',
] as const;

/** A metadata value type name. */
export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];

/** A scalar metadata value type (anything but `array`). */
export type GgufScalarType = Exclude<GgufValueType, 'array'>;

/** One metadata value with its type; `u64`/`i64` values are bigints, other numbers are numbers. */
export type GgufValue =
  | {
      /** A 32-bit-or-smaller integer, or a float. */
      readonly type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
      /** The number. */
      readonly value: number;
    }
  | {
      /** A 64-bit integer. */
      readonly type: 'u64' | 'i64';
      /** The integer, as a bigint. */
      readonly value: bigint;
    }
  | {
      /** A boolean. */
      readonly type: 'bool';
      /** The boolean. */
      readonly value: boolean;
    }
  | {
      /** A UTF-8 string. */
      readonly type: 'string';
      /** The string. */
      readonly value: string;
    }
  | {
      /** An array of one item type. */
      readonly type: 'array';
      /** Type of every item. */
      readonly itemType: GgufValueType;
      /** The items (numbers, bigints, booleans, strings, or nested arrays' items). */
      readonly value: readonly unknown[];
    };

/** Bytes of one fixed-size scalar; 0 for strings and arrays. */
export function ggufScalarBytes(type: GgufValueType): number {
  switch (type) {
    case 'u8':
    case 'i8':
    case 'bool':
      return 1;
    case 'u16':
    case 'i16':
      return 2;
    case 'u32':
    case 'i32':
    case 'f32':
      return 4;
    case 'u64':
    case 'i64':
    case 'f64':
      return 8;
    default:
      return 0;
  }
}

/** Metadata value shorthands for writers. */
export const gguf = {
  /** A u32 value. */
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  /** An i32 value. */
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  /** An f32 value. */
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  /** A bool value. */
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  /** A string value. */
  string: (value: string): GgufValue => ({ type: 'string', value }),
  /** An array of strings. */
  strings: (value: readonly string[]): GgufValue => ({ type: 'array', itemType: 'string', value }),
  /** An array of i32. */
  i32s: (value: readonly number[]): GgufValue => ({ type: 'array', itemType: 'i32', value }),
};
