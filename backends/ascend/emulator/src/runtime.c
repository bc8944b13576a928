/* libascendcl.so of the emulator: aclInit, devices, streams, tracked device/host memory, copies
 * queued per stream and run at aclrtSynchronizeStream, and the recent-error text. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emu.h"

static _Thread_local char recent[1024];
static bool initialized = false;
static int device = -1;

int emu_fail(int code, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(recent, sizeof recent, format, args);
  va_end(args);
  fprintf(stderr, "[ascend-emulator] error %d: %s\n", code, recent);
  return code;
}

const char *aclGetRecentErrMsg(void) { return recent[0] ? recent : NULL; }

bool emu_initialized(void) { return initialized && device >= 0; }

aclError aclInit(const char *configPath) {
  (void)configPath;
  if (initialized) return emu_fail(ACL_ERROR_REPEAT_INITIALIZE, "aclInit: already initialized");
  initialized = true;
  return ACL_SUCCESS;
}

aclError aclFinalize(void) {
  if (!initialized) return emu_fail(ACL_ERROR_UNINITIALIZE, "aclFinalize: aclInit was not called");
  initialized = false;
  device = -1;
  return ACL_SUCCESS;
}

aclError aclrtSetDevice(int32_t id) {
  if (!initialized) return emu_fail(ACL_ERROR_UNINITIALIZE, "aclrtSetDevice: call aclInit first");
  if (id != 0) return emu_fail(ACL_ERROR_INVALID_PARAM, "aclrtSetDevice: device %d does not exist (the emulator has device 0)", id);
  device = id;
  return ACL_SUCCESS;
}

aclError aclrtResetDevice(int32_t id) {
  if (id != device) return emu_fail(ACL_ERROR_INVALID_PARAM, "aclrtResetDevice: device %d is not set", id);
  device = -1;
  return ACL_SUCCESS;
}

aclError aclrtGetDeviceCount(uint32_t *count) {
  if (!count) return emu_fail(ACL_ERROR_INVALID_PARAM, "aclrtGetDeviceCount: count is null");
  *count = 1;
  return ACL_SUCCESS;
}

#define EMU_DEVICE_BYTES (64ull << 30)
static uint64_t deviceUsed = 0;

aclError aclrtGetMemInfo(int attr, size_t *freeBytes, size_t *totalBytes) {
  (void)attr;
  if (!freeBytes || !totalBytes) return emu_fail(ACL_ERROR_INVALID_PARAM, "aclrtGetMemInfo: null output pointer");
  *totalBytes = EMU_DEVICE_BYTES;
  *freeBytes = EMU_DEVICE_BYTES - deviceUsed;
  return ACL_SUCCESS;
}

/* ---- tracked allocations ---- */
typedef struct {
  char *base;
  size_t size;
  bool host;
  bool live;
} Allocation;
static Allocation *allocations = NULL;
static size_t allocationCount = 0, allocationCapacity = 0, deadBytes = 0;

static Allocation *find(const void *p) {
  for (size_t i = allocationCount; i-- > 0;) {
    Allocation *a = &allocations[i];
    if ((const char *)p >= a->base && (const char *)p < a->base + (a->size ? a->size : 1)) return a;
  }
  return NULL;
}

bool emu_in_allocation(const void *pointer, size_t bytes, bool host, char *why, size_t whySize) {
  Allocation *a = find(pointer);
  if (!a) {
    snprintf(why, whySize, "%p is not inside any %s allocation", pointer, host ? "aclrtMallocHost" : "aclrtMalloc");
    return false;
  }
  if (!a->live) {
    snprintf(why, whySize, "%p points into memory that was already freed (use after free)", pointer);
    return false;
  }
  if (a->host != host) {
    snprintf(why, whySize, "%p is %s memory where %s memory is required", pointer, a->host ? "host" : "device",
             host ? "host" : "device");
    return false;
  }
  if ((const char *)pointer + bytes > a->base + a->size) {
    snprintf(why, whySize, "%zu bytes at %p run %zu bytes past the end of its %zu-byte allocation", bytes, pointer,
             (size_t)((const char *)pointer + bytes - (a->base + a->size)), a->size);
    return false;
  }
  return true;
}

static aclError track(void **p, size_t size, bool host, const char *who) {
  if (!p) return emu_fail(ACL_ERROR_INVALID_PARAM, "%s: output pointer is null", who);
  if (size == 0) return emu_fail(ACL_ERROR_INVALID_PARAM, "%s: size is 0", who);
  if (!host && !emu_initialized()) return emu_fail(ACL_ERROR_RT_CONTEXT_NULL, "%s: no device set (call aclInit and aclrtSetDevice)", who);
  char *base = aligned_alloc(512, (size + 511) / 512 * 512);
  if (!base) return emu_fail(ACL_ERROR_BAD_ALLOC, "%s: out of memory for %zu bytes", who, size);
  memset(base, 0xA5, size); /* device memory starts as garbage, never as zeros */
  if (allocationCount == allocationCapacity) {
    allocationCapacity = allocationCapacity ? allocationCapacity * 2 : 256;
    allocations = realloc(allocations, allocationCapacity * sizeof *allocations);
  }
  allocations[allocationCount++] = (Allocation){base, size, host, true};
  if (!host) deviceUsed += size;
  *p = base;
  return ACL_SUCCESS;
}

static aclError untrack(void *p, bool host, const char *who) {
  if (!p) return emu_fail(ACL_ERROR_INVALID_PARAM, "%s: pointer is null", who);
  Allocation *a = find(p);
  if (!a || a->base != (char *)p) return emu_fail(ACL_ERROR_INVALID_PARAM, "%s: %p was not returned by %s", who, p, host ? "aclrtMallocHost" : "aclrtMalloc");
  if (!a->live) return emu_fail(ACL_ERROR_INVALID_PARAM, "%s: %p was already freed (double free)", who, p);
  if (a->host != host) return emu_fail(ACL_ERROR_INVALID_PARAM, "%s: %p is %s memory", who, p, a->host ? "host" : "device");
  a->live = false;
  if (!host) deviceUsed -= a->size;
  /* The memory itself is kept (poisoned) so later use is detected rather than undefined, until
   * 256 MiB of it pile up; then dead allocations are released for real. */
  memset(a->base, 0xDD, a->size);
  deadBytes += a->size;
  if (deadBytes > (256u << 20)) {
    size_t kept = 0;
    for (size_t i = 0; i < allocationCount; i++) {
      if (allocations[i].live) allocations[kept++] = allocations[i];
      else free(allocations[i].base);
    }
    allocationCount = kept;
    deadBytes = 0;
  }
  return ACL_SUCCESS;
}

aclError aclrtMalloc(void **p, size_t size, int policy) {
  if (policy < 0 || policy > 2) return emu_fail(ACL_ERROR_INVALID_PARAM, "aclrtMalloc: unknown aclrtMemMallocPolicy %d", policy);
  return track(p, size, false, "aclrtMalloc");
}
aclError aclrtFree(void *p) { return untrack(p, false, "aclrtFree"); }
aclError aclrtMallocHost(void **p, size_t size) { return track(p, size, true, "aclrtMallocHost"); }
aclError aclrtFreeHost(void *p) { return untrack(p, true, "aclrtFreeHost"); }

/* ---- copies ---- */
static aclError check_copy(const char *who, void *dst, size_t dstMax, const void *src, size_t count, int kind,
                           bool async) {
  char why[256];
  if (!dst || !src) return emu_fail(ACL_ERROR_INVALID_PARAM, "%s: %s is null", who, dst ? "src" : "dst");
  if (kind < 0 || kind > 3) return emu_fail(ACL_ERROR_INVALID_PARAM, "%s: unknown aclrtMemcpyKind %d", who, kind);
  if (count > dstMax) return emu_fail(ACL_ERROR_INVALID_PARAM, "%s: count %zu exceeds destMax %zu", who, count, dstMax);
  bool srcDevice = kind == 2 || kind == 3, dstDevice = kind == 1 || kind == 3;
  /* Device sides must be tracked device memory; for async copies the host side must be aclrtMallocHost memory. */
  if (srcDevice || async) {
    if (!emu_in_allocation(src, count, !srcDevice, why, sizeof why)) return emu_fail(ACL_ERROR_INVALID_PARAM, "%s (kind %d) src: %s", who, kind, why);
  }
  if (dstDevice || async) {
    if (!emu_in_allocation(dst, dstMax, !dstDevice, why, sizeof why)) return emu_fail(ACL_ERROR_INVALID_PARAM, "%s (kind %d) dst: %s", who, kind, why);
  }
  return ACL_SUCCESS;
}

aclError aclrtMemcpy(void *dst, size_t dstMax, const void *src, size_t count, int kind) {
  aclError e = check_copy("aclrtMemcpy", dst, dstMax, src, count, kind, false);
  if (e) return e;
  memmove(dst, src, count);
  return ACL_SUCCESS;
}

/* ---- streams: work is queued and runs, in order, at synchronize ---- */
typedef struct {
  bool isCopy;
  void *dst;
  const void *src;
  size_t count;
  int kind;
  aclOpExecutor *ex;
  void *workspace;
  uint64_t wsSize;
} Work;
typedef struct Stream {
  uint32_t magic;
  Work *work;
  size_t count, capacity;
} Stream;

aclError aclrtCreateStream(aclrtStream *stream) {
  if (!stream) return emu_fail(ACL_ERROR_INVALID_PARAM, "aclrtCreateStream: stream is null");
  if (!emu_initialized()) return emu_fail(ACL_ERROR_RT_CONTEXT_NULL, "aclrtCreateStream: no device set");
  Stream *s = calloc(1, sizeof *s);
  s->magic = STREAM_MAGIC;
  *stream = s;
  return ACL_SUCCESS;
}

static Stream *as_stream(aclrtStream stream, const char *who, aclError *error) {
  Stream *s = stream;
  if (!s || s->magic != STREAM_MAGIC) {
    *error = emu_fail(ACL_ERROR_RT_STREAM_INVALID, "%s: %p is not a live stream from aclrtCreateStream", who, stream);
    return NULL;
  }
  return s;
}

static void push(Stream *s, Work w) {
  if (s->count == s->capacity) {
    s->capacity = s->capacity ? s->capacity * 2 : 64;
    s->work = realloc(s->work, s->capacity * sizeof *s->work);
  }
  s->work[s->count++] = w;
}

aclError aclrtMemcpyAsync(void *dst, size_t dstMax, const void *src, size_t count, int kind, aclrtStream stream) {
  aclError e = check_copy("aclrtMemcpyAsync", dst, dstMax, src, count, kind, true);
  if (e) return e;
  Stream *s = as_stream(stream, "aclrtMemcpyAsync", &e);
  if (!s) return e;
  push(s, (Work){true, dst, src, count, kind, NULL, NULL, 0});
  return ACL_SUCCESS;
}

/* Executors are freed by the runtime once their work ran (or was dropped). */
void emu_free_executor(aclOpExecutor *ex) {
  if (!ex) return;
  free(ex->extra);
  free(ex);
}

aclError emu_enqueue_exec(aclrtStream stream, aclOpExecutor *ex, void *workspace, uint64_t wsSize) {
  aclError e = ACL_SUCCESS;
  Stream *s = as_stream(stream, ex->op, &e);
  if (!s) return e;
  push(s, (Work){false, NULL, NULL, 0, 0, ex, workspace, wsSize});
  return ACL_SUCCESS;
}

aclError aclrtSynchronizeStream(aclrtStream stream) {
  aclError e = ACL_SUCCESS;
  Stream *s = as_stream(stream, "aclrtSynchronizeStream", &e);
  if (!s) return e;
  aclError first = ACL_SUCCESS;
  char why[256];
  for (size_t i = 0; i < s->count; i++) {
    Work *w = &s->work[i];
    if (first) {
      if (!w->isCopy) emu_free_executor(w->ex);
      continue; /* a failed stream drops the rest of its work, as the device would */
    }
    if (w->isCopy) {
      bool srcDevice = w->kind == 2 || w->kind == 3, dstDevice = w->kind == 1 || w->kind == 3;
      if (!emu_in_allocation(w->src, w->count, !srcDevice, why, sizeof why) ||
          !emu_in_allocation(w->dst, w->count, !dstDevice, why, sizeof why)) {
        first = emu_fail(ACLNN_ERR_RUNTIME_ERROR, "aclrtMemcpyAsync executed at synchronize: %s", why);
        continue;
      }
      memmove(w->dst, w->src, w->count);
      continue;
    }
    aclOpExecutor *ex = w->ex;
    if (ex->workspaceSize > 0 && !emu_in_allocation(w->workspace, ex->workspaceSize, false, why, sizeof why)) {
      first = emu_fail(ACLNN_ERR_RUNTIME_ERROR, "%s executed at synchronize: workspace %s", ex->op, why);
    } else {
      aclnnStatus status = ex->checkLive(ex, NULL);
      if (!status) status = ex->run(ex, w->workspace);
      if (status) first = status;
    }
    ex->magic = 0;
    emu_free_executor(ex);
  }
  s->count = 0;
  return first;
}

aclError aclrtDestroyStream(aclrtStream stream) {
  aclError e = ACL_SUCCESS;
  Stream *s = as_stream(stream, "aclrtDestroyStream", &e);
  if (!s) return e;
  if (s->count) return emu_fail(ACL_ERROR_INVALID_PARAM, "aclrtDestroyStream: %zu queued tasks were never synchronized", s->count);
  s->magic = 0;
  free(s->work);
  free(s);
  return ACL_SUCCESS;
}

const char *aclrtGetSocName(void) { return "Ascend-emulator (CPU reference of the CANN C API)"; }
