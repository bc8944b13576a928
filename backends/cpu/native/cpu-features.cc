// Run-time ISA detection (see cpu-features.h). Uses GCC's __builtin_cpu_supports, which also checks
// that the OS saves the AVX / AVX-512 register state (XGETBV).
#include "cpu-features.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "tensor.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace dsa {

namespace {

int hardware_isa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (avx512) return kAvx512;
  if (avx2) return kAvx2;
#endif
  return kPortable;
}

int compute_isa() {
  int isa = hardware_isa();
  const char* forced = std::getenv("DSA_CPU_ISA");
  if (forced != nullptr) {
    int want = isa;
    if (std::strcmp(forced, "portable") == 0) want = kPortable;
    if (std::strcmp(forced, "avx2") == 0) want = kAvx2;
    if (std::strcmp(forced, "avx512") == 0) want = kAvx512;
    if (want < isa) isa = want;
  }
  return isa;
}

std::string compute_brand() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned int regs[12];
  unsigned int max = __get_cpuid_max(0x80000000, nullptr);
  if (max < 0x80000004) return "";
  for (unsigned int i = 0; i < 3; i++)
    __get_cpuid(0x80000002 + i, &regs[i * 4], &regs[i * 4 + 1], &regs[i * 4 + 2], &regs[i * 4 + 3]);
  char text[49];
  std::memcpy(text, regs, 48);
  text[48] = 0;
  std::string s(text);
  size_t first = s.find_first_not_of(' ');
  size_t last = s.find_last_not_of(' ');
  return first == std::string::npos ? "" : s.substr(first, last - first + 1);
#else
  return "";
#endif
}

}  // namespace

int detected_isa() {
  static const int isa = compute_isa();
  return isa;
}

bool has_avx512bf16() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool bf16 = detected_isa() == kAvx512 && __builtin_cpu_supports("avx512bf16");
  return bf16;
#else
  return false;
#endif
}

bool has_amx_bf16() {
  static const bool amx = [] {
#if defined(__linux__) && defined(__x86_64__)
    const char* flag = std::getenv("DSA_CPU_AMX");
    if (flag != nullptr && std::strcmp(flag, "0") == 0) return false;
    if (!has_avx512bf16()) return false;
    unsigned int a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const bool tile = (d >> 24) & 1u, bf16 = (d >> 22) & 1u;  // CPUID.(7,0):EDX AMX-TILE, AMX-BF16
    if (!tile || !bf16) return false;
    // XCR0 bits 17 (XTILECFG) and 18 (XTILEDATA): the OS saves the tile state.
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if (((lo >> 17) & 3u) != 3u) return false;
    // Linux hands out the 8 KB tile data state per process on request (5.16 on).
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
    return false;
#endif
  }();
  return amx;
}

int max_isa() { return has_avx512bf16() ? kAvx512Bf16 : detected_isa(); }

const char* isa_name(int isa) {
  switch (isa) {
    case kAvx512Bf16:
      return "AVX-512-BF16";
    case kAvx512:
      return "AVX-512";
    case kAvx2:
      return "AVX2";
    default:
      return "portable";
  }
}

const char* cpu_brand() {
  static const std::string brand = compute_brand();
  return brand.c_str();
}

}  // namespace dsa
