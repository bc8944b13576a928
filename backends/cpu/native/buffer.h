// Device buffers of the cpu backend: 64-byte aligned host allocations in a handle table. JavaScript
// holds the handle (an index); every use looks it up, so a disposed or foreign handle is an error,
// never a dangling pointer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dsa {

struct Buffer {
  uint8_t* data = nullptr;
  size_t size = 0;
};

// Allocates `size` bytes (zeroed when `zero`); returns the handle.
uint32_t buffer_allocate(size_t size, bool zero);
// Frees a handle; unknown or already freed handles are ignored.
void buffer_free(double id);
// The allocation behind a handle; throws KernelError when it was freed or never existed.
Buffer buffer_lookup(double id);
// Copies `bytes` bytes between host memory and [offset, offset + bytes) of a buffer (bounds checked).
void buffer_transfer(double id, double offset, uint8_t* host, size_t bytes, bool to_device);

}  // namespace dsa
