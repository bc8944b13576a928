// Element types and ISA levels: the two enums every native file shares (kept free of standard
// library headers so the per-ISA kernel files can include it).
#pragma once

#include <cstdint>

namespace dsa {

// Codes shared with src/descriptor.ts (DTYPE_CODES); keep them in sync.
enum class DType : int32_t {
  f64 = 0,
  f32 = 1,
  f16 = 2,
  bf16 = 3,
  f8_e4m3 = 4,
  i64 = 5,
  i32 = 6,
  i16 = 7,
  i8 = 8,
  u8 = 9,
  boolean = 10,
};

// Kernel sets, lowest first.
// kAvx512Bf16: the AVX-512 kernels plus vdpbf16ps for bf16 linear weights (opt-in bf16 precision).
enum Isa : int { kPortable = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Bf16 = 3 };

}  // namespace dsa
