// Device buffers (see buffer.h).
#include "buffer.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "tensor.h"

namespace dsa {

namespace {
constexpr size_t kAlignment = 64;
std::mutex table_mutex;
std::vector<Buffer> table;
std::vector<uint32_t> free_ids;
}  // namespace

uint32_t buffer_allocate(size_t size, bool zero) {
  size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  void* data = std::aligned_alloc(kAlignment, rounded);
  if (data == nullptr) throw std::bad_alloc();
  if (zero) std::memset(data, 0, rounded);
  std::lock_guard<std::mutex> lock(table_mutex);
  uint32_t id;
  if (!free_ids.empty()) {
    id = free_ids.back();
    free_ids.pop_back();
  } else {
    id = static_cast<uint32_t>(table.size());
    table.emplace_back();
  }
  table[id] = {static_cast<uint8_t*>(data), size};
  return id;
}

void buffer_free(double id) {
  std::lock_guard<std::mutex> lock(table_mutex);
  if (id >= 0 && id < static_cast<double>(table.size()) && table[static_cast<size_t>(id)].data != nullptr) {
    std::free(table[static_cast<size_t>(id)].data);
    table[static_cast<size_t>(id)] = {};
    free_ids.push_back(static_cast<uint32_t>(id));
  }
}

Buffer buffer_lookup(double id) {
  std::lock_guard<std::mutex> lock(table_mutex);
  if (!(id >= 0) || id >= static_cast<double>(table.size()) || table[static_cast<size_t>(id)].data == nullptr)
    fail("tensor buffer was disposed or does not belong to the cpu backend");
  return table[static_cast<size_t>(id)];
}

void buffer_transfer(double id, double offset, uint8_t* host, size_t bytes, bool to_device) {
  Buffer buffer = buffer_lookup(id);
  if (!(offset >= 0) || offset + static_cast<double>(bytes) > static_cast<double>(buffer.size))
    fail("bytes [" + std::to_string(static_cast<int64_t>(offset)) + ", " +
         std::to_string(static_cast<int64_t>(offset) + static_cast<int64_t>(bytes)) + ") are outside the " +
         std::to_string(buffer.size) + "-byte buffer");
  uint8_t* device = buffer.data + static_cast<size_t>(offset);
  if (to_device)
    std::memcpy(device, host, bytes);
  else
    std::memcpy(host, device, bytes);
}

}  // namespace dsa
