/* libnnopbase.so of the emulator: tensor, int-array and scalar descriptors, dtype conversion,
 * strided element access and the executor half of the two-phase aclnn protocol. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emu.h"

size_t emu_dtype_size(int dtype) {
  switch (dtype) {
  case EMU_FLOAT: case EMU_INT32: return 4;
  case EMU_FLOAT16: case EMU_BF16: case EMU_INT16: return 2;
  case EMU_INT8: case EMU_UINT8: case EMU_BOOL: case EMU_FLOAT8_E4M3FN: return 1;
  case EMU_INT64: case EMU_DOUBLE: return 8;
  default: return 0;
  }
}

const char *emu_dtype_name(int dtype) {
  switch (dtype) {
  case EMU_FLOAT: return "FLOAT"; case EMU_FLOAT16: return "FLOAT16"; case EMU_INT8: return "INT8";
  case EMU_INT32: return "INT32"; case EMU_UINT8: return "UINT8"; case EMU_INT16: return "INT16";
  case EMU_INT64: return "INT64"; case EMU_DOUBLE: return "DOUBLE"; case EMU_BOOL: return "BOOL";
  case EMU_BF16: return "BF16"; case EMU_FLOAT8_E4M3FN: return "FLOAT8_E4M3FN";
  default: return "unknown";
  }
}

aclTensor *aclCreateTensor(const int64_t *viewDims, uint64_t viewDimsNum, int dataType, const int64_t *stride,
                           int64_t offset, int format, const int64_t *storageDims, uint64_t storageDimsNum,
                           void *tensorData) {
  if (viewDimsNum > EMU_MAX_DIMS || storageDimsNum > EMU_MAX_DIMS) {
    emu_fail(ACLNN_ERR_PARAM_INVALID, "aclCreateTensor: at most %d dims", EMU_MAX_DIMS);
    return NULL;
  }
  if ((viewDimsNum && (!viewDims || !stride)) || (storageDimsNum && !storageDims)) {
    emu_fail(ACLNN_ERR_PARAM_NULLPTR, "aclCreateTensor: null dims/strides for %llu dims", (unsigned long long)viewDimsNum);
    return NULL;
  }
  if (!emu_dtype_size(dataType)) {
    emu_fail(ACLNN_ERR_PARAM_INVALID, "aclCreateTensor: aclDataType %d is not supported", dataType);
    return NULL;
  }
  if (format != 2) {
    emu_fail(ACLNN_ERR_PARAM_INVALID, "aclCreateTensor: format %d; the emulator implements ACL_FORMAT_ND (2) only", format);
    return NULL;
  }
  if (offset < 0) {
    emu_fail(ACLNN_ERR_PARAM_INVALID, "aclCreateTensor: negative offset %lld", (long long)offset);
    return NULL;
  }
  aclTensor *t = calloc(1, sizeof *t);
  t->magic = TENSOR_MAGIC;
  t->dtype = dataType;
  t->format = format;
  t->ndim = viewDimsNum;
  t->offset = offset;
  t->storageNdim = storageDimsNum;
  t->data = tensorData;
  int64_t maxOffset = offset, storage = 1;
  for (uint64_t d = 0; d < viewDimsNum; d++) {
    if (viewDims[d] < 0 || stride[d] < 0) {
      emu_fail(ACLNN_ERR_PARAM_INVALID, "aclCreateTensor: dim %llu has size %lld stride %lld", (unsigned long long)d,
               (long long)viewDims[d], (long long)stride[d]);
      free(t);
      return NULL;
    }
    t->dims[d] = viewDims[d];
    t->strides[d] = stride[d];
    if (viewDims[d] > 0) maxOffset += (viewDims[d] - 1) * stride[d];
  }
  for (uint64_t d = 0; d < storageDimsNum; d++) {
    t->storageDims[d] = storageDims[d];
    storage *= storageDims[d];
  }
  int64_t n = 1;
  for (uint64_t d = 0; d < viewDimsNum; d++) n *= viewDims[d];
  if (n > 0 && maxOffset >= storage) {
    emu_fail(ACLNN_ERR_PARAM_INVALID, "aclCreateTensor: the view reaches element %lld but storage holds %lld elements (view out of bounds)",
             (long long)maxOffset, (long long)storage);
    free(t);
    return NULL;
  }
  return t;
}

aclnnStatus aclDestroyTensor(const aclTensor *tensor) {
  if (!tensor) return ACL_SUCCESS;
  if (tensor->magic != TENSOR_MAGIC) return emu_fail(ACLNN_ERR_PARAM_INVALID, "aclDestroyTensor: %p is not a live aclTensor (destroyed twice?)", (void *)tensor);
  ((aclTensor *)tensor)->magic = 0;
  free((void *)tensor);
  return ACL_SUCCESS;
}

aclTensorList *aclCreateTensorList(const aclTensor *const *value, uint64_t size) {
  if (size && !value) {
    emu_fail(ACLNN_ERR_PARAM_NULLPTR, "aclCreateTensorList: value is null for %llu tensors", (unsigned long long)size);
    return NULL;
  }
  for (uint64_t i = 0; i < size; i++)
    if (!value[i] || value[i]->magic != TENSOR_MAGIC) {
      emu_fail(ACLNN_ERR_PARAM_INVALID, "aclCreateTensorList: member %llu is not a live aclTensor", (unsigned long long)i);
      return NULL;
    }
  aclTensorList *l = calloc(1, sizeof *l);
  l->magic = TENSORLIST_MAGIC;
  l->size = size;
  l->items = calloc(size ? size : 1, sizeof *l->items);
  for (uint64_t i = 0; i < size; i++) l->items[i] = (aclTensor *)value[i];
  return l;
}

aclnnStatus aclDestroyTensorList(const aclTensorList *list) {
  if (!list) return ACL_SUCCESS;
  if (list->magic != TENSORLIST_MAGIC) return emu_fail(ACLNN_ERR_PARAM_INVALID, "aclDestroyTensorList: %p is not a live aclTensorList", (void *)list);
  for (uint64_t i = 0; i < list->size; i++) {
    aclnnStatus e = aclDestroyTensor(list->items[i]); /* the list owns its members */
    if (e) return emu_fail(e, "aclDestroyTensorList: member %llu was already destroyed (a tensor in a list must not be destroyed on its own)", (unsigned long long)i);
  }
  ((aclTensorList *)list)->magic = 0;
  free(list->items);
  free((void *)list);
  return ACL_SUCCESS;
}

aclnnStatus emu_check_list(const char *op, const char *name, const aclTensorList *list) {
  if (!list) return emu_fail(ACLNN_ERR_PARAM_NULLPTR, "%s: tensor list %s is null", op, name);
  if (list->magic != TENSORLIST_MAGIC) return emu_fail(ACLNN_ERR_PARAM_INVALID, "%s: %s (%p) is not a live aclTensorList", op, name, (void *)list);
  for (uint64_t i = 0; i < list->size; i++) {
    char member[96];
    snprintf(member, sizeof member, "%s[%llu]", name, (unsigned long long)i);
    aclnnStatus e = emu_check_tensor(op, member, list->items[i]);
    if (e) return e;
  }
  return ACL_SUCCESS;
}

void emu_keep_list(aclOpExecutor *ex, const aclTensorList *list) {
  int64_t at = ex->extraCount;
  ex->extra = realloc(ex->extra, (size_t)(at + (int64_t)list->size) * sizeof *ex->extra);
  for (uint64_t i = 0; i < list->size; i++) ex->extra[at + (int64_t)i] = *list->items[i];
  ex->extraCount = at + (int64_t)list->size;
}

aclIntArray *aclCreateIntArray(const int64_t *value, uint64_t size) {
  if (size > EMU_MAX_DIMS || (size && !value)) {
    emu_fail(ACLNN_ERR_PARAM_INVALID, "aclCreateIntArray: %llu values (at most %d, non-null)", (unsigned long long)size, EMU_MAX_DIMS);
    return NULL;
  }
  aclIntArray *a = calloc(1, sizeof *a);
  a->magic = INTARRAY_MAGIC;
  a->size = size;
  if (size) memcpy(a->values, value, size * sizeof *value);
  return a;
}

/* Destroys a descriptor whose first field is its magic (every one in emu.h): NULL is a no-op, a live one
 * is marked dead and freed, anything else fails as "<fn>: not a live <type>". */
static aclnnStatus destroy_descriptor(const void *descriptor, uint32_t magic, const char *fn, const char *type) {
  if (!descriptor) return ACL_SUCCESS;
  uint32_t *live = (uint32_t *)descriptor;
  if (*live != magic) return emu_fail(ACLNN_ERR_PARAM_INVALID, "%s: not a live %s", fn, type);
  *live = 0;
  free((void *)descriptor);
  return ACL_SUCCESS;
}

aclnnStatus aclDestroyIntArray(const aclIntArray *array) {
  return destroy_descriptor(array, INTARRAY_MAGIC, "aclDestroyIntArray", "aclIntArray");
}

aclScalar *aclCreateScalar(void *value, int dataType) {
  if (!value) {
    emu_fail(ACLNN_ERR_PARAM_NULLPTR, "aclCreateScalar: value is null");
    return NULL;
  }
  aclScalar *s = calloc(1, sizeof *s);
  s->magic = SCALAR_MAGIC;
  s->dtype = dataType;
  switch (dataType) {
  case EMU_FLOAT: s->value = *(float *)value; break;
  case EMU_DOUBLE: s->value = *(double *)value; break;
  case EMU_INT32: s->value = *(int32_t *)value; break;
  case EMU_INT64: s->value = (double)*(int64_t *)value; break;
  default:
    free(s);
    emu_fail(ACLNN_ERR_PARAM_INVALID, "aclCreateScalar: dtype %s not supported by the emulator", emu_dtype_name(dataType));
    return NULL;
  }
  return s;
}

aclnnStatus aclDestroyScalar(const aclScalar *scalar) {
  return destroy_descriptor(scalar, SCALAR_MAGIC, "aclDestroyScalar", "aclScalar");
}

int64_t emu_numel(const aclTensor *t) {
  int64_t n = 1;
  for (uint64_t d = 0; d < t->ndim; d++) n *= t->dims[d];
  return n;
}

static aclnnStatus check_memory(const char *op, const char *name, const aclTensor *t) {
  if (emu_numel(t) == 0) return ACL_SUCCESS;
  int64_t last = t->offset;
  for (uint64_t d = 0; d < t->ndim; d++) last += (t->dims[d] - 1) * t->strides[d];
  size_t esize = emu_dtype_size(t->dtype);
  char why[256];
  const char *start = (const char *)t->data + t->offset * (int64_t)esize;
  if (!emu_in_allocation(start, (size_t)(last - t->offset + 1) * esize, false, why, sizeof why))
    return emu_fail(ACLNN_ERR_PARAM_INVALID, "%s: tensor %s: %s", op, name, why);
  return ACL_SUCCESS;
}

aclnnStatus emu_check_tensor(const char *op, const char *name, const aclTensor *t) {
  if (!emu_initialized()) return emu_fail(ACL_ERROR_RT_CONTEXT_NULL, "%s: no device set (aclInit + aclrtSetDevice first)", op);
  if (!t) return emu_fail(ACLNN_ERR_PARAM_NULLPTR, "%s: tensor %s is null", op, name);
  if (t->magic != TENSOR_MAGIC) return emu_fail(ACLNN_ERR_PARAM_INVALID, "%s: tensor %s (%p) is not a live aclTensor", op, name, (void *)t);
  if (!t->data && emu_numel(t) > 0) return emu_fail(ACLNN_ERR_PARAM_NULLPTR, "%s: tensor %s has null device data", op, name);
  return check_memory(op, name, t);
}

aclnnStatus emu_check_tensors(const char *op, const char *names, const aclTensor *const *tensors, int count) {
  const char *at = names;
  for (int i = 0; i < count; i++) {
    at += strspn(at, ", ");
    size_t length = strcspn(at, ", ");
    char name[96];
    snprintf(name, sizeof name, "%.*s", (int)length, at);
    aclnnStatus e = emu_check_tensor(op, name, tensors[i]);
    if (e) return e;
    at += length;
  }
  return ACL_SUCCESS;
}

aclOpExecutor *emu_new_executor(const char *op, emu_kernel run, uint64_t workspaceSize) {
  aclOpExecutor *ex = calloc(1, sizeof *ex);
  ex->magic = EXECUTOR_MAGIC;
  snprintf(ex->op, sizeof ex->op, "%s", op);
  ex->run = run;
  ex->checkLive = emu_check_live;
  ex->workspaceSize = workspaceSize;
  return ex;
}

void emu_keep(aclOpExecutor *ex, int slot, const aclTensor *t) {
  if (!t) return;
  ex->present[slot] = true;
  ex->t[slot] = *t;
}

void emu_keep_all(aclOpExecutor *ex, const aclTensor *const *tensors, int count) {
  for (int i = 0; i < count; i++) emu_keep(ex, i, tensors[i]);
}

aclnnStatus emu_finish(aclOpExecutor *ex, uint64_t *workspaceSize, aclOpExecutor **executor) {
  if (!workspaceSize || !executor) {
    const char *op = ex->op;
    aclnnStatus e = emu_fail(ACLNN_ERR_PARAM_NULLPTR, "%sGetWorkspaceSize: %s is null", op, workspaceSize ? "executor" : "workspaceSize");
    free(ex);
    return e;
  }
  *workspaceSize = ex->workspaceSize;
  *executor = ex;
  return ACL_SUCCESS;
}

aclnnStatus emu_launch(const char *op, void *workspace, uint64_t workspaceSize, aclOpExecutor *ex, aclrtStream stream) {
  char why[256];
  if (!ex) return emu_fail(ACLNN_ERR_PARAM_NULLPTR, "%s: executor is null", op);
  if (ex->magic != EXECUTOR_MAGIC) return emu_fail(ACLNN_ERR_PARAM_INVALID, "%s: executor %p is not live (executors are single-use)", op, (void *)ex);
  if (strcmp(ex->op, op) != 0) return emu_fail(ACLNN_ERR_PARAM_INVALID, "%s: executor was created by %sGetWorkspaceSize", op, ex->op);
  if (workspaceSize != ex->workspaceSize)
    return emu_fail(ACLNN_ERR_PARAM_INVALID, "%s: workspaceSize %llu differs from the %llu bytes GetWorkspaceSize returned", op,
                    (unsigned long long)workspaceSize, (unsigned long long)ex->workspaceSize);
  if (workspaceSize > 0 && !emu_in_allocation(workspace, workspaceSize, false, why, sizeof why))
    return emu_fail(ACLNN_ERR_PARAM_INVALID, "%s: workspace %s", op, why);
  if (!stream) return emu_fail(ACLNN_ERR_PARAM_NULLPTR, "%s: stream is null", op);
  ex->magic = EXECUTOR_MAGIC + 1; /* launched: a second launch is refused */
  aclError e = emu_enqueue_exec(stream, ex, workspace, workspaceSize);
  if (e) ex->magic = EXECUTOR_MAGIC;
  return e;
}

aclnnStatus emu_check_live(aclOpExecutor *ex, void *unused) {
  (void)unused;
  for (int i = 0; i < EXEC_TENSORS; i++) {
    if (!ex->present[i]) continue;
    aclnnStatus e = check_memory(ex->op, "argument", &ex->t[i]);
    if (e) return emu_fail(ACLNN_ERR_RUNTIME_ERROR, "%s executed at synchronize with argument %d in dead memory", ex->op, i);
  }
  for (int64_t i = 0; i < ex->extraCount; i++) {
    aclnnStatus e = check_memory(ex->op, "list member", &ex->extra[i]);
    if (e) return emu_fail(ACLNN_ERR_RUNTIME_ERROR, "%s executed at synchronize with tensor-list member %lld in dead memory", ex->op, (long long)i);
  }
  return ACL_SUCCESS;
}

int64_t emu_offset(const aclTensor *t, int64_t linear) {
  int64_t off = t->offset;
  for (int64_t d = (int64_t)t->ndim - 1; d >= 0; d--) {
    int64_t size = t->dims[d];
    if (size == 0) return off;
    off += (linear % size) * t->strides[d];
    linear /= size;
  }
  return off;
}

/* ---- number formats ---- */
static double fp8_value(uint8_t bits) {
  int sign = bits & 0x80 ? -1 : 1, e = (bits >> 3) & 0xf, m = bits & 7;
  if (e == 15 && m == 7) return NAN;
  if (e == 0) return sign * ldexp(m, -9);
  return sign * ldexp(8 + m, e - 10);
}

static uint8_t fp8_bits(double x) {
  if (isnan(x)) return 0x7f;
  uint8_t sign = signbit(x) ? 0x80 : 0;
  double a = fabs(x);
  if (a >= 448) return sign | 0x7e; /* saturating */
  uint8_t best = 0;
  double bestError = INFINITY;
  for (int b = 0; b < 0x7f; b++) {
    double err = fabs(fp8_value((uint8_t)b) - a);
    if (err < bestError || (err == bestError && (b & 1) == 0 && (best & 1) == 1)) {
      bestError = err;
      best = (uint8_t)b;
    }
  }
  return sign | best;
}

static double f16_value(uint16_t h) {
  int sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e == 31) return m ? NAN : sign * INFINITY;
  if (e == 0) return sign * ldexp(m, -24);
  return sign * ldexp(1024 + m, e - 25);
}

static uint16_t f16_bits(double x) {
  if (isnan(x)) return 0x7e00;
  uint16_t sign = signbit(x) ? 0x8000 : 0;
  double a = fabs(x);
  if (a == 0) return sign;
  int e;
  frexp(a, &e); /* a = f * 2^e, f in [0.5, 1) */
  double quantum = e - 1 >= -14 ? ldexp(1, e - 11) : ldexp(1, -24);
  double r = nearbyint(a / quantum) * quantum; /* round half to even */
  if (r >= 65520.0 || r > 65504.0) return sign | 0x7c00;
  if (r < ldexp(1, -14)) return sign | (uint16_t)(r / ldexp(1, -24));
  frexp(r, &e);
  int exponent = e - 1;
  uint16_t mant = (uint16_t)(r / ldexp(1, exponent - 10) - 1024);
  return sign | (uint16_t)((exponent + 15) << 10) | mant;
}

static uint16_t bf16_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}

double emu_get(const aclTensor *t, int64_t o) {
  const char *p = (const char *)t->data;
  switch (t->dtype) {
  case EMU_FLOAT: return ((const float *)p)[o];
  case EMU_DOUBLE: return ((const double *)p)[o];
  case EMU_FLOAT16: return f16_value(((const uint16_t *)p)[o]);
  case EMU_BF16: {
    uint32_t u = (uint32_t)((const uint16_t *)p)[o] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  case EMU_FLOAT8_E4M3FN: return fp8_value(((const uint8_t *)p)[o]);
  case EMU_INT8: return ((const int8_t *)p)[o];
  case EMU_UINT8: case EMU_BOOL: return ((const uint8_t *)p)[o];
  case EMU_INT16: return ((const int16_t *)p)[o];
  case EMU_INT32: return ((const int32_t *)p)[o];
  case EMU_INT64: return (double)((const int64_t *)p)[o];
  default: return NAN;
  }
}

static double to_int(double v, double lo, double hi) {
  if (isnan(v)) return 0;
  v = trunc(v);
  return v < lo ? lo : v > hi ? hi : v;
}

void emu_set(const aclTensor *t, int64_t o, double v) {
  char *p = (char *)t->data;
  switch (t->dtype) {
  case EMU_FLOAT: ((float *)p)[o] = (float)v; break;
  case EMU_DOUBLE: ((double *)p)[o] = v; break;
  case EMU_FLOAT16: ((uint16_t *)p)[o] = f16_bits(v); break;
  case EMU_BF16: ((uint16_t *)p)[o] = bf16_bits((float)v); break;
  case EMU_FLOAT8_E4M3FN: ((uint8_t *)p)[o] = fp8_bits(v); break;
  case EMU_INT8: ((int8_t *)p)[o] = (int8_t)to_int(v, -128, 127); break;
  case EMU_UINT8: ((uint8_t *)p)[o] = (uint8_t)to_int(v, 0, 255); break;
  case EMU_BOOL: ((uint8_t *)p)[o] = v != 0; break;
  case EMU_INT16: ((int16_t *)p)[o] = (int16_t)to_int(v, -32768, 32767); break;
  case EMU_INT32: ((int32_t *)p)[o] = (int32_t)to_int(v, -2147483648.0, 2147483647.0); break;
  case EMU_INT64: ((int64_t *)p)[o] = (int64_t)to_int(v, -9.2e18, 9.2e18); break;
  default: break;
  }
}
