// Keeps the GPU busy for `ns` nanoseconds (one thread, %globaltimer): the kernel profile's lead
// (src/kernel-profile.ts, DSA_CUDA_PROFILE_LEAD_MS) enqueues it after every host wait, so the host runs
// ahead of the GPU and the events around each following kernel time the kernel, not the host's launch gap.
#include <stdint.h>

extern "C" __global__ void dsa_profile_spin(uint64_t ns) {
  uint64_t start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    __nanosleep(1000);
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < ns);
}
