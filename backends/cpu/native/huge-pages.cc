// Host memory in transparent huge pages (see huge-pages.h).
#include "huge-pages.h"

#include <sys/mman.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace dsa {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kSlabBytes = size_t{32} << 20;
constexpr size_t kPieceAlignment = 64;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

struct Slab {
  uint8_t* data = nullptr;  // null once unmapped
  size_t used = 0;          // bytes handed out from the start
  size_t pieces = 0;        // live pieces
};

std::mutex& slab_mutex = *new std::mutex;
std::vector<Slab>& slabs = *new std::vector<Slab>;
int32_t current = -1;  // the slab being filled
}  // namespace

uint8_t* huge_map(size_t bytes) {
  const size_t length = round_up(bytes, 4096);
  // Reserve one huge page more than needed, then trim the head and tail so that the mapping starts on one.
  void* reserved = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (reserved == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(reserved);
  const uintptr_t aligned = round_up(start, kHugePage);
  if (aligned > start) munmap(reserved, aligned - start);
  const size_t tail = start + length + kHugePage - (aligned + length);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + length), tail);
#ifdef MADV_HUGEPAGE
  madvise(reinterpret_cast<void*>(aligned), length, MADV_HUGEPAGE);  // advice: refused where THP is off
#endif
  return reinterpret_cast<uint8_t*>(aligned);
}

void huge_unmap(uint8_t* data, size_t bytes) { munmap(data, round_up(bytes, 4096)); }

SlabPiece slab_allocate(size_t bytes) {
  const size_t size = round_up(bytes == 0 ? 1 : bytes, kPieceAlignment);
  std::lock_guard<std::mutex> lock(slab_mutex);
  if (current < 0 || slabs[current].used + size > kSlabBytes) {
    uint8_t* data = huge_map(kSlabBytes);
    if (data == nullptr) return {};
    // A full slab stays mapped while pieces of it live (it has some: an empty slab is filled from its start).
    current = -1;
    for (size_t i = 0; i < slabs.size() && current < 0; i++)
      if (slabs[i].data == nullptr) current = static_cast<int32_t>(i);
    if (current < 0) {
      current = static_cast<int32_t>(slabs.size());
      slabs.emplace_back();
    }
    slabs[current] = {data, 0, 0};
  }
  Slab& slab = slabs[current];
  SlabPiece piece{slab.data + slab.used, current};
  slab.used += size;
  slab.pieces++;
  return piece;
}

void slab_free(int32_t id) {
  std::lock_guard<std::mutex> lock(slab_mutex);
  Slab& slab = slabs[id];
  if (--slab.pieces > 0) return;
  if (id == current) {
    slab.used = 0;  // filled again from its start
    return;
  }
  huge_unmap(slab.data, kSlabBytes);
  slab = {};
}

}  // namespace dsa
