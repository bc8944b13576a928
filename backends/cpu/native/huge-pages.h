// Host memory in transparent huge pages. A decode step streams every weight once and gathers cache rows at
// random; in 4 KB pages that is a TLB miss every 64 lines, and on a virtual machine each miss walks the guest's
// and the host's page tables. Linux maps 2 MB pages where madvise(MADV_HUGEPAGE) asks for them (THP "madvise"
// or "always"): measured on the 2-core Xeon VM, small's decode step 10-14% faster (docs/benchmarks.md).
//   huge_map / huge_unmap: a zeroed mapping of its own, 2 MB aligned (caches, activations, large weights);
//   slab_allocate / slab_free: a model's many small weight tensors packed into shared 32 MB slabs, so that they
//     sit in huge pages too; a slab is unmapped when its last piece is freed (the slab being filled is kept and
//     filled again from its start, so that loading and freeing small weights in turn maps nothing new).
// Elsewhere (no MADV_HUGEPAGE) the same calls map ordinary pages.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dsa {

// Allocations of at least this many bytes get a mapping of their own.
constexpr size_t kHugeMapMin = size_t{2} << 20;
// Weight allocations in [kSlabMin, kSlabMax) are packed into slabs (smaller ones are not worth a huge page).
constexpr size_t kSlabMin = size_t{16} << 10;
constexpr size_t kSlabMax = size_t{16} << 20;

// A fresh zero-filled mapping of `bytes` (> 0), 2 MB aligned, advised for huge pages; nullptr when the OS refuses.
uint8_t* huge_map(size_t bytes);
// Unmaps what huge_map(bytes) returned.
void huge_unmap(uint8_t* data, size_t bytes);

// A piece of a slab: `data` (64-byte aligned, not zero-filled) in slab `slab`.
struct SlabPiece {
  uint8_t* data = nullptr;
  int32_t slab = -1;
};
// `bytes` (< kSlabMax) from the current slab, or from a new one when it is full; data is null when the OS
// refuses a new slab. Thread-safe.
SlabPiece slab_allocate(size_t bytes);
// Releases a piece of `slab`; unmaps the slab with its last piece. Thread-safe.
void slab_free(int32_t slab);

}  // namespace dsa
