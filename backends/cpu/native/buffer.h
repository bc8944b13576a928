// Device buffers of the cpu backend: 64-byte aligned host allocations in a handle table, in huge pages where they
// are large or weights (huge-pages.h). JavaScript
// holds the handle (an index); every use looks it up, so a disposed or foreign handle is an error,
// never a dangling pointer. Work queued on a stream (queue.h) holds a reference on every buffer it
// touches: freeing a referenced buffer retires its handle at once (later lookups fail) but frees
// the memory only when the last reference is released.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dsa {

struct Buffer {
  uint8_t* data = nullptr;
  size_t size = 0;
};

// What a buffer holds (@dsa/backend's BufferUsage): weights are overwritten by their upload and may share huge
// pages with other weights; caches and activations start zeroed.
enum class BufferUsage { weights, kv_cache, activations };

// Allocates `size` bytes for `usage`; returns the handle.
uint32_t buffer_allocate(size_t size, BufferUsage usage);
// Frees a handle; unknown or already freed handles are ignored. With references outstanding the
// handle is retired now and the memory freed by the last buffer_release.
void buffer_free(double id);
// The allocation behind a handle; throws KernelError when it was freed or never existed.
Buffer buffer_lookup(double id);
// buffer_lookup plus one reference that keeps the memory alive until buffer_release(handle).
Buffer buffer_acquire(double id, uint32_t* handle);
// Drops references taken by buffer_acquire (frees retired buffers whose last reference this was).
void buffer_release(const uint32_t* handles, size_t count);
// Checks that [offset, offset + bytes) lies inside `buffer`; returns the address of byte `offset`.
uint8_t* buffer_span(const Buffer& buffer, double offset, size_t bytes);

}  // namespace dsa
