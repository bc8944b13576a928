// Run-time ISA detection: which kernel set (portable, AVX2+FMA+F16C, AVX-512) this CPU can run.
#pragma once

namespace dsa {

// Highest ISA level the CPU and OS support (Isa in tensor.h). DSA_CPU_ISA=portable|avx2|avx512 lowers it.
int detected_isa();
const char* isa_name(int isa);
// Whether the CPU runs the AVX-512-BF16 set too (AVX512_BF16 on top of detected_isa() == kAvx512).
bool has_avx512bf16();
// Whether the bf16 precision's dot products may run on AMX tiles: the CPU has AMX-TILE and AMX-BF16, the OS
// saves the tile state and granted this process its use (arch_prctl ARCH_REQ_XCOMP_PERM), and DSA_CPU_AMX is
// not 0 (nor DSA_CPU_ISA below avx512). Asked once; the answer holds for the process.
bool has_amx_bf16();
// Highest level a backend may ask for: kAvx512Bf16 where has_avx512bf16(), else detected_isa().
int max_isa();
// The CPU's brand string ("AMD EPYC 9B14 ..."), or "" where unknown.
const char* cpu_brand();

}  // namespace dsa
