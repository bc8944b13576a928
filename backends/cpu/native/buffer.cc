// Device buffers (see buffer.h).
#include "buffer.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "huge-pages.h"
#include "tensor.h"

namespace dsa {

namespace {
constexpr size_t kAlignment = 64;

struct Entry {
  uint8_t* data = nullptr;
  size_t size = 0;
  uint32_t references = 0;  // queued commands that use the buffer
  bool retired = false;     // freed by JavaScript while referenced: no longer looked up
  bool mapped = false;      // huge_map's (else a slab's piece or aligned_alloc's)
  int32_t slab = -1;        // the slab of a piece
};

// The table is never destroyed: programs and queued commands still alive when the process exits
// release their buffer references from static destructors (Program::~Program via addon.cc's
// program table), which may run after this file's statics would have been destroyed.
std::mutex& table_mutex = *new std::mutex;
std::vector<Entry>& table = *new std::vector<Entry>;
std::vector<uint32_t>& free_ids = *new std::vector<uint32_t>;

// The live entry behind `id` (table_mutex held); throws when there is none.
Entry& live(double id) {
  if (!(id >= 0) || id >= static_cast<double>(table.size())) fail("tensor buffer was disposed or does not belong to the cpu backend");
  Entry& entry = table[static_cast<size_t>(id)];
  if (entry.data == nullptr || entry.retired) fail("tensor buffer was disposed or does not belong to the cpu backend");
  return entry;
}

void destroy(uint32_t id) {
  Entry& entry = table[id];
  if (entry.slab >= 0)
    slab_free(entry.slab);
  else if (entry.mapped)
    huge_unmap(entry.data, entry.size);  // mapped only from kHugeMapMin bytes
  else
    std::free(entry.data);
  table[id] = {};
  free_ids.push_back(id);
}
}  // namespace

uint32_t buffer_allocate(size_t size, BufferUsage usage) {
  uint8_t* data = nullptr;
  bool mapped = false;
  int32_t slab = -1;
  if (usage == BufferUsage::weights && size >= kSlabMin && size < kSlabMax) {
    const SlabPiece piece = slab_allocate(size);
    data = piece.data;
    slab = piece.slab;
  } else if (size >= kHugeMapMin) {
    data = huge_map(size);  // zero-filled
    mapped = true;
  } else {
    size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
    if (rounded == 0) rounded = kAlignment;
    data = static_cast<uint8_t*>(std::aligned_alloc(kAlignment, rounded));
    if (data != nullptr && usage != BufferUsage::weights) std::memset(data, 0, rounded);
  }
  if (data == nullptr) throw std::bad_alloc();
  std::lock_guard<std::mutex> lock(table_mutex);
  uint32_t id;
  if (!free_ids.empty()) {
    id = free_ids.back();
    free_ids.pop_back();
  } else {
    id = static_cast<uint32_t>(table.size());
    table.emplace_back();
  }
  table[id] = {data, size, 0, false, mapped, slab};
  return id;
}

void buffer_free(double id) {
  std::lock_guard<std::mutex> lock(table_mutex);
  if (!(id >= 0) || id >= static_cast<double>(table.size())) return;
  Entry& entry = table[static_cast<size_t>(id)];
  if (entry.data == nullptr || entry.retired) return;
  if (entry.references > 0)
    entry.retired = true;
  else
    destroy(static_cast<uint32_t>(id));
}

Buffer buffer_lookup(double id) {
  std::lock_guard<std::mutex> lock(table_mutex);
  Entry& entry = live(id);
  return {entry.data, entry.size};
}

Buffer buffer_acquire(double id, uint32_t* handle) {
  std::lock_guard<std::mutex> lock(table_mutex);
  Entry& entry = live(id);
  entry.references++;
  *handle = static_cast<uint32_t>(id);
  return {entry.data, entry.size};
}

void buffer_release(const uint32_t* handles, size_t count) {
  if (count == 0) return;
  std::lock_guard<std::mutex> lock(table_mutex);
  for (size_t i = 0; i < count; i++) {
    Entry& entry = table[handles[i]];
    if (--entry.references == 0 && entry.retired) destroy(handles[i]);
  }
}

uint8_t* buffer_span(const Buffer& buffer, double offset, size_t bytes) {
  if (!(offset >= 0) || offset + static_cast<double>(bytes) > static_cast<double>(buffer.size))
    fail("bytes [" + std::to_string(static_cast<int64_t>(offset)) + ", " +
         std::to_string(static_cast<int64_t>(offset) + static_cast<int64_t>(bytes)) + ") are outside the " +
         std::to_string(buffer.size) + "-byte buffer");
  return buffer.data + static_cast<size_t>(offset);
}

}  // namespace dsa
