#pragma once

namespace dsa {

// The f32 FMA rate the cores reach with the widest FMA of kernel set `isa` (kPortable: scalar multiply-add,
// kAvx2: 256-bit vfmadd, kAvx512 and up: 512-bit vfmadd) on up to `threads` pool threads, in GFLOP/s (an FMA is
// two FLOPs): independent dependency chains, best of 3 passes. What `dsa bench` divides prefill GFLOP/s by.
double fma_peak_gflops(int isa, int threads);

}  // namespace dsa
