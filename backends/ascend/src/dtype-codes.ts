import type { DType } from '@dsa/tensor';

/** `aclDataType` values (acl_base.h) of each dtype. */
export const ACL_DTYPES: Record<DType, number> = {
  f32: 0,
  f16: 1,
  i8: 2,
  i32: 3,
  u8: 4,
  i16: 6,
  i64: 9,
  f64: 11,
  bool: 12,
  bf16: 27,
  f8_e4m3: 36, // ACL_FLOAT8_E4M3FN: newer CANN only; Atlas A2/A3 have no fp8 compute
};

/** `ACL_FORMAT_ND`. */
export const ACL_FORMAT_ND = 2;
/** `aclrtMemcpyKind` values. */
export const MEMCPY = { hostToHost: 0, hostToDevice: 1, deviceToHost: 2, deviceToDevice: 3 } as const;
