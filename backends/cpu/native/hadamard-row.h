// The Walsh-Hadamard butterflies of one row in double, in place: the hadamard kernel's inner loop. One readable
// scalar reference (hadamard-row.cc) and the AVX-512 loop beside it (hadamard-row-avx512.cc). Both run the same
// butterflies in the same order (level h = 1, 2, 4, ...: v[j], v[j + h] = v[j] + v[j + h], v[j] − v[j + h]), so
// they give the same bits; hadamard_row picks by ISA.
#pragma once

#include <cstdint>

namespace dsa {

// v = H_d · v (Sylvester order, unscaled); d a power of two.
void hadamard_row_scalar(double* v, int64_t d);
// The same on AVX-512, 8 doubles per vector: levels 1, 2 and 4 inside each vector, the others between vectors.
// d a power of two of at least 8. Callers check the CPU first.
void hadamard_row_avx512(double* v, int64_t d);
// hadamard_row_avx512 where isa >= kAvx512 and d >= 8, else hadamard_row_scalar.
void hadamard_row(int isa, double* v, int64_t d);

}  // namespace dsa
