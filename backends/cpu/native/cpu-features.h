// Run-time ISA detection: which kernel set (portable, AVX2+FMA+F16C, AVX-512) this CPU can run.
#pragma once

namespace dsa {

// Highest ISA level the CPU and OS support (Isa in tensor.h). DSA_CPU_ISA=portable|avx2|avx512 lowers it.
int detected_isa();
const char* isa_name(int isa);
// The CPU's brand string ("AMD EPYC 9B14 ..."), or "" where unknown.
const char* cpu_brand();

}  // namespace dsa
