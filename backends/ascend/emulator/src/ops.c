/* libopapi.so of the emulator: the built-in aclnn operators the backend binds, with CPU
 * implementations of their published semantics and strict argument checks. Each operator has the
 * two halves of the protocol: aclnnXxxGetWorkspaceSize checks and records the arguments into a
 * single-use executor; aclnnXxx checks the launch and queues the executor on the stream. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emu-op.h"

static bool is_float(int dtype) {
  return dtype == EMU_FLOAT || dtype == EMU_FLOAT16 || dtype == EMU_BF16 || dtype == EMU_DOUBLE ||
         dtype == EMU_FLOAT8_E4M3FN;
}
static bool is_index(int dtype) { return dtype == EMU_INT32 || dtype == EMU_INT64; }

static void shape_text(const aclTensor *t, char *out, size_t size) {
  size_t n = (size_t)snprintf(out, size, "[");
  for (uint64_t d = 0; d < t->ndim && n < size; d++) n += (size_t)snprintf(out + n, size - n, d ? ", %lld" : "%lld", (long long)t->dims[d]);
  if (n < size) snprintf(out + n, size - n, "]");
}

static aclnnStatus same_shape(const char *op, const char *an, const aclTensor *a, const char *bn, const aclTensor *b) {
  bool same = a->ndim == b->ndim;
  for (uint64_t d = 0; same && d < a->ndim; d++) same = a->dims[d] == b->dims[d];
  if (same) return ACL_SUCCESS;
  char sa[128], sb[128];
  shape_text(a, sa, sizeof sa);
  shape_text(b, sb, sizeof sb);
  return FAIL("%s: %s %s and %s %s must have the same shape", op, an, sa, bn, sb);
}

/* numpy broadcasting of `t` to the shape of `out`: the offset of out's element `linear` in t. */
static aclnnStatus broadcastable(const char *op, const char *name, const aclTensor *t, const aclTensor *out) {
  if (t->ndim > out->ndim) return FAIL("%s: %s has more dims than out", op, name);
  for (uint64_t d = 0; d < t->ndim; d++) {
    int64_t size = t->dims[t->ndim - 1 - d], want = out->dims[out->ndim - 1 - d];
    if (size != want && size != 1) {
      char s1[128], s2[128];
      shape_text(t, s1, sizeof s1);
      shape_text(out, s2, sizeof s2);
      return FAIL("%s: %s %s does not broadcast to %s", op, name, s1, s2);
    }
  }
  return ACL_SUCCESS;
}
static int64_t bcast_offset(const aclTensor *t, const aclTensor *out, int64_t linear) {
  int64_t off = t->offset;
  for (int64_t d = (int64_t)out->ndim - 1, k = (int64_t)t->ndim - 1; d >= 0; d--, k--) {
    int64_t size = out->dims[d], i = linear % size;
    linear /= size;
    if (k >= 0 && t->dims[k] != 1) off += i * t->strides[k];
  }
  return off;
}

static aclnnStatus check_scalar(const char *op, const char *name, const aclScalar *s) {
  if (!s) return emu_fail(ACLNN_ERR_PARAM_NULLPTR, "%s: scalar %s is null", op, name);
  if (s->magic != SCALAR_MAGIC) return FAIL("%s: scalar %s is not a live aclScalar", op, name);
  return ACL_SUCCESS;
}


/* ---------------- fill, cast, copy ---------------- */
static aclnnStatus run_fill(aclOpExecutor *ex, void *ws) {
  (void)ws;
  const aclTensor *t = &ex->t[0];
  double v = ex->f[0];
  for (int64_t i = 0, n = emu_numel(t); i < n; i++) emu_set(t, emu_offset(t, i), v);
  return ACL_SUCCESS;
}
aclnnStatus aclnnInplaceFillScalarGetWorkspaceSize(aclTensor *selfRef, const aclScalar *value, uint64_t *wsSize, aclOpExecutor **executor) {
  const char *op = "aclnnInplaceFillScalar";
  TRY(emu_check_tensor(op, "selfRef", selfRef));
  TRY(check_scalar(op, "value", value));
  aclOpExecutor *ex = emu_new_executor(op, run_fill, 0);
  emu_keep(ex, 0, selfRef);
  ex->f[0] = value->value;
  return emu_finish(ex, wsSize, executor);
}
LAUNCH(InplaceFillScalar)

static aclnnStatus run_copy(aclOpExecutor *ex, void *ws) {
  (void)ws;
  const aclTensor *out = &ex->t[0], *x = &ex->t[1];
  int64_t n = emu_numel(out);
  /* Read everything first: source and destination may overlap. */
  double *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
  for (int64_t i = 0; i < n; i++) tmp[i] = emu_get(x, bcast_offset(x, out, i));
  for (int64_t i = 0; i < n; i++) emu_set(out, emu_offset(out, i), tmp[i]);
  free(tmp);
  return ACL_SUCCESS;
}
aclnnStatus aclnnCastGetWorkspaceSize(const aclTensor *self, int dtype, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  const char *op = "aclnnCast";
  TRY(EMU_CHECK(op, self, out));
  TRY(same_shape(op, "self", self, "out", out));
  if (out->dtype != dtype) return FAIL("%s: dtype %s but out is %s", op, emu_dtype_name(dtype), emu_dtype_name(out->dtype));
  aclOpExecutor *ex = emu_new_executor(op, run_copy, 0);
  EMU_KEEP(ex, out, self);
  return emu_finish(ex, wsSize, executor);
}
LAUNCH(Cast)
aclnnStatus aclnnInplaceCopyGetWorkspaceSize(aclTensor *selfRef, const aclTensor *src, uint64_t *wsSize, aclOpExecutor **executor) {
  const char *op = "aclnnInplaceCopy";
  TRY(EMU_CHECK(op, selfRef, src));
  TRY(broadcastable(op, "src", src, selfRef));
  aclOpExecutor *ex = emu_new_executor(op, run_copy, 0);
  EMU_KEEP(ex, selfRef, src);
  return emu_finish(ex, wsSize, executor);
}
LAUNCH(InplaceCopy)

/* ---------------- element-wise ---------------- */
enum { U_SILU, U_RELU, U_EXP, U_SIGMOID, U_NEG, U_SQRT, U_RECIPROCAL, U_ABS, U_COS, U_SIN, U_LOG2, U_CEIL };
static double unary_value(int code, double x) {
  switch (code) {
  case U_SILU: return x / (1 + exp(-x));
  case U_RELU: return x > 0 ? x : 0;
  case U_EXP: return exp(x);
  case U_SIGMOID: return 1 / (1 + exp(-x));
  case U_NEG: return -x;
  case U_SQRT: return sqrt(x);
  case U_RECIPROCAL: return 1 / x;
  case U_ABS: return fabs(x);
  case U_COS: return cos(x);
  case U_SIN: return sin(x);
  case U_LOG2: return log2(x);
  default: return ceil(x);
  }
}
static aclnnStatus run_unary(aclOpExecutor *ex, void *ws) {
  (void)ws;
  const aclTensor *out = &ex->t[0], *x = &ex->t[1];
  for (int64_t i = 0, n = emu_numel(out); i < n; i++)
    emu_set(out, emu_offset(out, i), unary_value((int)ex->i[0], emu_get(x, emu_offset(x, i))));
  return ACL_SUCCESS;
}
static aclnnStatus unary(const char *op, int code, const aclTensor *self, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  TRY(EMU_CHECK(op, self, out));
  TRY(same_shape(op, "self", self, "out", out));
  if (!is_float(self->dtype) || !is_float(out->dtype)) return FAIL("%s: self %s / out %s must be floating point", op, emu_dtype_name(self->dtype), emu_dtype_name(out->dtype));
  aclOpExecutor *ex = emu_new_executor(op, run_unary, 0);
  EMU_KEEP(ex, out, self);
  ex->i[0] = code;
  return emu_finish(ex, wsSize, executor);
}
#define UNARY(name, code)                                                                              \
  aclnnStatus aclnn##name##GetWorkspaceSize(const aclTensor *self, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) { \
    return unary("aclnn" #name, code, self, out, wsSize, executor);                                  \
  }                                                                                                    \
  LAUNCH(name)
UNARY(Silu, U_SILU)
UNARY(Relu, U_RELU)
UNARY(Exp, U_EXP)
UNARY(Sigmoid, U_SIGMOID)
UNARY(Neg, U_NEG)
UNARY(Sqrt, U_SQRT)
UNARY(Reciprocal, U_RECIPROCAL)
UNARY(Abs, U_ABS)
UNARY(Cos, U_COS)
UNARY(Sin, U_SIN)
UNARY(Log2, U_LOG2)
UNARY(Ceil, U_CEIL)

enum { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN };
static aclnnStatus run_binary(aclOpExecutor *ex, void *ws) {
  (void)ws;
  const aclTensor *out = &ex->t[0], *a = &ex->t[1], *b = &ex->t[2];
  double alpha = ex->f[0];
  for (int64_t i = 0, n = emu_numel(out); i < n; i++) {
    double x = emu_get(a, bcast_offset(a, out, i)), y = emu_get(b, bcast_offset(b, out, i)), r;
    switch (ex->i[0]) {
    case B_ADD: r = x + alpha * y; break;
    case B_SUB: r = x - alpha * y; break;
    case B_MUL: r = x * y; break;
    case B_DIV: r = x / y; break;
    case B_MAX: r = isnan(x) || isnan(y) ? NAN : x > y ? x : y; break;
    default: r = isnan(x) || isnan(y) ? NAN : x < y ? x : y; break;
    }
    emu_set(out, emu_offset(out, i), r);
  }
  return ACL_SUCCESS;
}
static aclnnStatus binary(const char *op, int code, const aclTensor *self, const aclTensor *other, const aclScalar *alpha, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  TRY(EMU_CHECK(op, self, other, out));
  TRY(broadcastable(op, "self", self, out));
  TRY(broadcastable(op, "other", other, out));
  if (is_float(self->dtype) != is_float(out->dtype) || is_float(other->dtype) != is_float(out->dtype))
    return FAIL("%s: self %s, other %s and out %s mix integer and floating dtypes", op, emu_dtype_name(self->dtype), emu_dtype_name(other->dtype), emu_dtype_name(out->dtype));
  aclOpExecutor *ex = emu_new_executor(op, run_binary, 0);
  EMU_KEEP(ex, out, self, other);
  ex->i[0] = code;
  ex->f[0] = 1;
  if (code == B_ADD || code == B_SUB) {
    aclnnStatus e = check_scalar(op, "alpha", alpha);
    if (e) {
      free(ex);
      return e;
    }
    ex->f[0] = alpha->value;
  }
  return emu_finish(ex, wsSize, executor);
}
aclnnStatus aclnnAddGetWorkspaceSize(const aclTensor *self, const aclTensor *other, const aclScalar *alpha, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  return binary("aclnnAdd", B_ADD, self, other, alpha, out, wsSize, executor);
}
LAUNCH(Add)
aclnnStatus aclnnSubGetWorkspaceSize(const aclTensor *self, const aclTensor *other, const aclScalar *alpha, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  return binary("aclnnSub", B_SUB, self, other, alpha, out, wsSize, executor);
}
LAUNCH(Sub)
#define BINARY(name, code)                                                                             \
  aclnnStatus aclnn##name##GetWorkspaceSize(const aclTensor *self, const aclTensor *other, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) { \
    return binary("aclnn" #name, code, self, other, NULL, out, wsSize, executor);                    \
  }                                                                                                    \
  LAUNCH(name)
BINARY(Mul, B_MUL)
BINARY(Div, B_DIV)
BINARY(Maximum, B_MAX)
BINARY(Minimum, B_MIN)

/* Tensor-scalar forms: Muls, Divs, Clamp, PowScalarTensor. */
enum { S_MULS, S_DIVS, S_CLAMP, S_POW };
static aclnnStatus run_scalar(aclOpExecutor *ex, void *ws) {
  (void)ws;
  const aclTensor *out = &ex->t[0], *x = &ex->t[1];
  for (int64_t i = 0, n = emu_numel(out); i < n; i++) {
    double v = emu_get(x, emu_offset(x, i)), r;
    switch (ex->i[0]) {
    case S_MULS: r = v * ex->f[0]; break;
    case S_DIVS: r = v / ex->f[0]; break;
    case S_CLAMP: r = v < ex->f[0] ? ex->f[0] : v > ex->f[1] ? ex->f[1] : v; break;
    default: r = pow(ex->f[0], v); break;
    }
    emu_set(out, emu_offset(out, i), r);
  }
  return ACL_SUCCESS;
}
static aclnnStatus scalar_op(const char *op, int code, const aclTensor *self, const aclScalar *s0, const aclScalar *s1, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  TRY(emu_check_tensor(op, code == S_POW ? "exponent" : "self", self));
  TRY(emu_check_tensor(op, "out", out));
  TRY(same_shape(op, "self", self, "out", out));
  TRY(check_scalar(op, "scalar", s0));
  if (code == S_CLAMP) TRY(check_scalar(op, "clipValueMax", s1));
  if (!is_float(out->dtype)) return FAIL("%s: out must be floating point, got %s", op, emu_dtype_name(out->dtype));
  aclOpExecutor *ex = emu_new_executor(op, run_scalar, 0);
  EMU_KEEP(ex, out, self);
  ex->i[0] = code;
  ex->f[0] = s0->value;
  ex->f[1] = s1 ? s1->value : 0;
  return emu_finish(ex, wsSize, executor);
}
aclnnStatus aclnnMulsGetWorkspaceSize(const aclTensor *self, const aclScalar *other, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  return scalar_op("aclnnMuls", S_MULS, self, other, NULL, out, wsSize, executor);
}
LAUNCH(Muls)
aclnnStatus aclnnDivsGetWorkspaceSize(const aclTensor *self, const aclScalar *other, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  return scalar_op("aclnnDivs", S_DIVS, self, other, NULL, out, wsSize, executor);
}
LAUNCH(Divs)
aclnnStatus aclnnClampGetWorkspaceSize(const aclTensor *self, const aclScalar *clipValueMin, const aclScalar *clipValueMax, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  return scalar_op("aclnnClamp", S_CLAMP, self, clipValueMin, clipValueMax, out, wsSize, executor);
}
LAUNCH(Clamp)
aclnnStatus aclnnPowScalarTensorGetWorkspaceSize(const aclScalar *self, const aclTensor *exponent, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  return scalar_op("aclnnPowScalarTensor", S_POW, exponent, self, NULL, out, wsSize, executor);
}
LAUNCH(PowScalarTensor)

static aclnnStatus run_nan_to_num(aclOpExecutor *ex, void *ws) {
  (void)ws;
  const aclTensor *out = &ex->t[0], *x = &ex->t[1];
  for (int64_t i = 0, n = emu_numel(out); i < n; i++) {
    double v = emu_get(x, emu_offset(x, i));
    emu_set(out, emu_offset(out, i), isnan(v) ? ex->f[0] : v == INFINITY ? ex->f[1] : v == -INFINITY ? ex->f[2] : v);
  }
  return ACL_SUCCESS;
}
aclnnStatus aclnnNanToNumGetWorkspaceSize(const aclTensor *self, float nan, float posinf, float neginf, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  const char *op = "aclnnNanToNum";
  TRY(EMU_CHECK(op, self, out));
  TRY(same_shape(op, "self", self, "out", out));
  aclOpExecutor *ex = emu_new_executor(op, run_nan_to_num, 0);
  EMU_KEEP(ex, out, self);
  ex->f[0] = nan;
  ex->f[1] = posinf;
  ex->f[2] = neginf;
  return emu_finish(ex, wsSize, executor);
}
LAUNCH(NanToNum)

/* ---------------- matmul ---------------- */
static aclnnStatus run_matmul(aclOpExecutor *ex, void *ws) {
  const aclTensor *a = &ex->t[0], *b = &ex->t[1], *out = &ex->t[2];
  int batched = a->ndim == 3;
  int64_t B = batched ? a->dims[0] : 1, M = a->dims[batched], K = a->dims[batched + 1], N = b->dims[batched + 1];
  float *acc = ws; /* the accumulators live in the workspace, so a wrong workspace corrupts results */
  for (int64_t bb = 0; bb < B; bb++) {
    int64_t ao = a->offset + (batched ? bb * a->strides[0] : 0), bo = b->offset + (batched ? bb * b->strides[0] : 0);
    int64_t oo = out->offset + (batched ? bb * out->strides[0] : 0);
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) {
        double s = 0;
        for (int64_t k = 0; k < K; k++)
          s += emu_get(a, ao + m * a->strides[batched] + k * a->strides[batched + 1]) *
               emu_get(b, bo + k * b->strides[batched] + n * b->strides[batched + 1]);
        acc[m * N + n] = (float)s;
      }
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) emu_set(out, oo + m * out->strides[batched] + n * out->strides[batched + 1], acc[m * N + n]);
  }
  return ACL_SUCCESS;
}
static aclnnStatus matmul(const char *op, uint64_t rank, const aclTensor *self, const aclTensor *mat2, aclTensor *out, int8_t cubeMathType, uint64_t *wsSize, aclOpExecutor **executor) {
  TRY(EMU_CHECK(op, self, mat2, out));
  if (self->ndim != rank || mat2->ndim != rank || out->ndim != rank) return FAIL("%s: self, mat2 and out must be %llu-D", op, (unsigned long long)rank);
  int o = rank == 3;
  if ((o && (self->dims[0] != mat2->dims[0] || self->dims[0] != out->dims[0])) || self->dims[o + 1] != mat2->dims[o] ||
      out->dims[o] != self->dims[o] || out->dims[o + 1] != mat2->dims[o + 1]) {
    char s1[128], s2[128], s3[128];
    shape_text(self, s1, sizeof s1);
    shape_text(mat2, s2, sizeof s2);
    shape_text(out, s3, sizeof s3);
    return FAIL("%s: shapes self %s x mat2 %s -> out %s do not match", op, s1, s2, s3);
  }
  if (self->dtype != mat2->dtype || self->dtype != out->dtype || !is_float(self->dtype) || self->dtype == EMU_FLOAT8_E4M3FN)
    return FAIL("%s: self %s, mat2 %s and out %s must share one of FLOAT, FLOAT16, BF16", op, emu_dtype_name(self->dtype), emu_dtype_name(mat2->dtype), emu_dtype_name(out->dtype));
  if (cubeMathType < 0 || cubeMathType > 3) return FAIL("%s: cubeMathType %d is not 0..3", op, cubeMathType);
  aclOpExecutor *ex = emu_new_executor(op, run_matmul, (uint64_t)(out->dims[o] * out->dims[o + 1]) * 4);
  EMU_KEEP(ex, self, mat2, out);
  return emu_finish(ex, wsSize, executor);
}
aclnnStatus aclnnMatmulGetWorkspaceSize(const aclTensor *self, const aclTensor *mat2, aclTensor *out, int8_t cubeMathType, uint64_t *wsSize, aclOpExecutor **executor) {
  return matmul("aclnnMatmul", 2, self, mat2, out, cubeMathType, wsSize, executor);
}
LAUNCH(Matmul)
aclnnStatus aclnnBatchMatMulGetWorkspaceSize(const aclTensor *self, const aclTensor *mat2, aclTensor *out, int8_t cubeMathType, uint64_t *wsSize, aclOpExecutor **executor) {
  return matmul("aclnnBatchMatMul", 3, self, mat2, out, cubeMathType, wsSize, executor);
}
LAUNCH(BatchMatMul)

/* ---------------- row operations over the last dim ---------------- */
static int64_t rows_of(const aclTensor *t) { return emu_numel(t) / (t->ndim ? t->dims[t->ndim - 1] : 1); }
/* Offset of element (row r, column c) where rows enumerate every dim but the last. */
static int64_t row_offset(const aclTensor *t, int64_t r) {
  int64_t cols = t->dims[t->ndim - 1];
  return emu_offset(t, r * cols);
}
static aclnnStatus last_dim_tensor(const char *op, const char *name, const aclTensor *t) {
  if (t->ndim < 1) return FAIL("%s: %s must have at least 1 dim", op, name);
  return ACL_SUCCESS;
}

static aclnnStatus run_rms_norm(aclOpExecutor *ex, void *ws) {
  (void)ws;
  const aclTensor *x = &ex->t[0], *g = &ex->t[1], *y = &ex->t[2], *rstd = &ex->t[3];
  int64_t D = x->dims[x->ndim - 1];
  double *row = malloc((size_t)D * sizeof *row);
  for (int64_t r = 0, R = rows_of(x); r < R; r++) {
    int64_t xo = row_offset(x, r), yo = row_offset(y, r);
    double ss = 0;
    for (int64_t c = 0; c < D; c++) {
      row[c] = emu_get(x, xo + c * x->strides[x->ndim - 1]);
      ss += row[c] * row[c];
    }
    double inv = 1 / sqrt(ss / (double)D + ex->f[0]);
    for (int64_t c = 0; c < D; c++)
      emu_set(y, yo + c * y->strides[y->ndim - 1], (double)(float)(row[c] * inv) * emu_get(g, emu_offset(g, c)));
    if (ex->present[3]) emu_set(rstd, emu_offset(rstd, r), inv);
  }
  free(row);
  return ACL_SUCCESS;
}
aclnnStatus aclnnRmsNormGetWorkspaceSize(const aclTensor *x, const aclTensor *gamma, double epsilon, const aclTensor *yOut, const aclTensor *rstdOut, uint64_t *wsSize, aclOpExecutor **executor) {
  const char *op = "aclnnRmsNorm";
  TRY(EMU_CHECK(op, x, gamma, yOut, rstdOut));
  TRY(last_dim_tensor(op, "x", x));
  TRY(same_shape(op, "x", x, "yOut", yOut));
  if (gamma->ndim != 1 || gamma->dims[0] != x->dims[x->ndim - 1]) return FAIL("%s: gamma must be [%lld]", op, (long long)x->dims[x->ndim - 1]);
  if (gamma->dtype != x->dtype || yOut->dtype != x->dtype) return FAIL("%s: x %s, gamma %s and yOut %s must share a dtype", op, emu_dtype_name(x->dtype), emu_dtype_name(gamma->dtype), emu_dtype_name(yOut->dtype));
  if (rstdOut->dtype != EMU_FLOAT || emu_numel(rstdOut) != rows_of(x) || rstdOut->ndim != x->ndim || rstdOut->dims[rstdOut->ndim - 1] != 1)
    return FAIL("%s: rstdOut must be FLOAT with x's shape and a last dim of 1", op);
  aclOpExecutor *ex = emu_new_executor(op, run_rms_norm, 0);
  EMU_KEEP(ex, x, gamma, yOut, rstdOut);
  ex->f[0] = epsilon;
  return emu_finish(ex, wsSize, executor);
}
LAUNCH(RmsNorm)

static aclnnStatus run_layer_norm(aclOpExecutor *ex, void *ws) {
  (void)ws;
  const aclTensor *x = &ex->t[0], *w = &ex->t[1], *b = &ex->t[2], *y = &ex->t[3];
  int64_t D = x->dims[x->ndim - 1];
  for (int64_t r = 0, R = rows_of(x); r < R; r++) {
    int64_t xo = row_offset(x, r), yo = row_offset(y, r), sx = x->strides[x->ndim - 1];
    double mean = 0, var = 0;
    for (int64_t c = 0; c < D; c++) mean += emu_get(x, xo + c * sx);
    mean /= (double)D;
    for (int64_t c = 0; c < D; c++) {
      double d = emu_get(x, xo + c * sx) - mean;
      var += d * d;
    }
    double inv = 1 / sqrt(var / (double)D + ex->f[0]);
    for (int64_t c = 0; c < D; c++) {
      double v = (emu_get(x, xo + c * sx) - mean) * inv;
      if (ex->present[1]) v *= emu_get(w, emu_offset(w, c));
      if (ex->present[2]) v += emu_get(b, emu_offset(b, c));
      emu_set(y, yo + c * y->strides[y->ndim - 1], v);
    }
    if (ex->present[4]) emu_set(&ex->t[4], emu_offset(&ex->t[4], r), mean);
    if (ex->present[5]) emu_set(&ex->t[5], emu_offset(&ex->t[5], r), inv);
  }
  return ACL_SUCCESS;
}
aclnnStatus aclnnLayerNormGetWorkspaceSize(const aclTensor *input, const aclIntArray *normalizedShape, const aclTensor *weightOptional, const aclTensor *biasOptional, double eps, aclTensor *out, aclTensor *meanOutOptional, aclTensor *rstdOutOptional, uint64_t *wsSize, aclOpExecutor **executor) {
  const char *op = "aclnnLayerNorm";
  TRY(EMU_CHECK(op, input, out));
  TRY(last_dim_tensor(op, "input", input));
  TRY(same_shape(op, "input", input, "out", out));
  if (!normalizedShape || normalizedShape->magic != INTARRAY_MAGIC) return emu_fail(ACLNN_ERR_PARAM_NULLPTR, "%s: normalizedShape is null or not live", op);
  int64_t D = input->dims[input->ndim - 1];
  if (normalizedShape->size != 1 || normalizedShape->values[0] != D) return FAIL("%s: the emulator normalizes the last dim only: normalizedShape must be [%lld]", op, (long long)D);
  if (weightOptional) {
    TRY(emu_check_tensor(op, "weightOptional", weightOptional));
    if (weightOptional->ndim != 1 || weightOptional->dims[0] != D) return FAIL("%s: weight must be [%lld]", op, (long long)D);
  }
  if (biasOptional) {
    TRY(emu_check_tensor(op, "biasOptional", biasOptional));
    if (biasOptional->ndim != 1 || biasOptional->dims[0] != D) return FAIL("%s: bias must be [%lld]", op, (long long)D);
  }
  if (meanOutOptional) TRY(emu_check_tensor(op, "meanOutOptional", meanOutOptional));
  if (rstdOutOptional) TRY(emu_check_tensor(op, "rstdOutOptional", rstdOutOptional));
  aclOpExecutor *ex = emu_new_executor(op, run_layer_norm, 0);
  EMU_KEEP(ex, input, weightOptional, biasOptional, out, meanOutOptional, rstdOutOptional);
  ex->f[0] = eps;
  return emu_finish(ex, wsSize, executor);
}
LAUNCH(LayerNorm)

static aclnnStatus run_softmax(aclOpExecutor *ex, void *ws) {
  const aclTensor *x = &ex->t[0], *y = &ex->t[1];
  int64_t D = x->dims[x->ndim - 1];
  float *row = ws; /* one row of exponentials in the workspace */
  for (int64_t r = 0, R = rows_of(x); r < R; r++) {
    int64_t xo = row_offset(x, r), yo = row_offset(y, r);
    double max = -INFINITY, sum = 0;
    for (int64_t c = 0; c < D; c++) {
      double v = emu_get(x, xo + c * x->strides[x->ndim - 1]);
      if (v > max || isnan(v)) max = v;
    }
    for (int64_t c = 0; c < D; c++) {
      row[c] = (float)exp(emu_get(x, xo + c * x->strides[x->ndim - 1]) - max);
      sum += row[c];
    }
    for (int64_t c = 0; c < D; c++) emu_set(y, yo + c * y->strides[y->ndim - 1], row[c] / sum);
  }
  return ACL_SUCCESS;
}
aclnnStatus aclnnSoftmaxGetWorkspaceSize(const aclTensor *self, int64_t dim, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  const char *op = "aclnnSoftmax";
  TRY(EMU_CHECK(op, self, out));
  TRY(last_dim_tensor(op, "self", self));
  TRY(same_shape(op, "self", self, "out", out));
  if (dim != -1 && dim != (int64_t)self->ndim - 1) return FAIL("%s: the emulator implements dim = -1 (last) only, got %lld", op, (long long)dim);
  if (!is_float(self->dtype) || self->dtype != out->dtype) return FAIL("%s: self %s and out %s must be the same float dtype", op, emu_dtype_name(self->dtype), emu_dtype_name(out->dtype));
  aclOpExecutor *ex = emu_new_executor(op, run_softmax, (uint64_t)self->dims[self->ndim - 1] * 4);
  EMU_KEEP(ex, self, out);
  return emu_finish(ex, wsSize, executor);
}
LAUNCH(Softmax)

/* ---------------- reductions over the last dim ---------------- */
static aclnnStatus run_reduce(aclOpExecutor *ex, void *ws) {
  (void)ws;
  const aclTensor *x = &ex->t[0], *out = &ex->t[1];
  int64_t D = x->dims[x->ndim - 1], sx = x->strides[x->ndim - 1];
  for (int64_t r = 0, R = rows_of(x); r < R; r++) {
    int64_t xo = row_offset(x, r);
    double acc = ex->i[0] ? -INFINITY : 0;
    for (int64_t c = 0; c < D; c++) {
      double v = emu_get(x, xo + c * sx);
      if (ex->i[0]) acc = isnan(v) || v > acc ? v : acc;
      else acc += v;
    }
    emu_set(out, emu_offset(out, r), acc);
  }
  return ACL_SUCCESS;
}
static aclnnStatus reduce(const char *op, int isMax, const aclTensor *self, const aclIntArray *dim, bool keepDim, int dtype, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  TRY(EMU_CHECK(op, self, out));
  TRY(last_dim_tensor(op, "self", self));
  if (!dim || dim->magic != INTARRAY_MAGIC) return emu_fail(ACLNN_ERR_PARAM_NULLPTR, "%s: dim is null or not live", op);
  int64_t last = (int64_t)self->ndim - 1;
  if (dim->size != 1 || (dim->values[0] != -1 && dim->values[0] != last)) return FAIL("%s: the emulator reduces the last dim only (dim = [-1])", op);
  if (out->ndim != (keepDim ? self->ndim : self->ndim - 1) || emu_numel(out) != rows_of(self))
    return FAIL("%s: out must have self's shape %s the last dim", op, keepDim ? "with 1 as" : "without");
  if (!isMax && out->dtype != dtype) return FAIL("%s: dtype %s but out is %s", op, emu_dtype_name(dtype), emu_dtype_name(out->dtype));
  aclOpExecutor *ex = emu_new_executor(op, run_reduce, 0);
  EMU_KEEP(ex, self, out);
  ex->i[0] = isMax;
  return emu_finish(ex, wsSize, executor);
}
aclnnStatus aclnnReduceSumGetWorkspaceSize(const aclTensor *self, const aclIntArray *dim, bool keepDim, int dtype, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  return reduce("aclnnReduceSum", 0, self, dim, keepDim, dtype, out, wsSize, executor);
}
LAUNCH(ReduceSum)
aclnnStatus aclnnAmaxGetWorkspaceSize(const aclTensor *self, const aclIntArray *dim, bool keepDim, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  return reduce("aclnnAmax", 1, self, dim, keepDim, 0, out, wsSize, executor);
}
LAUNCH(Amax)

/* ---------------- top-k ---------------- */
static aclnnStatus run_topk(aclOpExecutor *ex, void *ws) {
  const aclTensor *x = &ex->t[0], *values = &ex->t[1], *indices = &ex->t[2];
  int64_t D = x->dims[x->ndim - 1], k = ex->i[0], sx = x->strides[x->ndim - 1];
  bool largest = ex->i[1];
  unsigned char *taken = ws;
  for (int64_t r = 0, R = rows_of(x); r < R; r++) {
    int64_t xo = row_offset(x, r), vo = row_offset(values, r), io = row_offset(indices, r);
    memset(taken, 0, (size_t)D);
    for (int64_t j = 0; j < k; j++) { /* selection, ties to the lower index (stable) */
      int64_t best = -1;
      double bv = 0;
      for (int64_t c = 0; c < D; c++) {
        if (taken[c]) continue;
        double v = emu_get(x, xo + c * sx);
        if (best < 0 || (largest ? (v > bv || (isnan(v) && !isnan(bv))) : v < bv)) {
          best = c;
          bv = v;
        }
      }
      taken[best] = 1;
      emu_set(values, vo + j * values->strides[values->ndim - 1], bv);
      emu_set(indices, io + j * indices->strides[indices->ndim - 1], (double)best);
    }
  }
  return ACL_SUCCESS;
}
aclnnStatus aclnnTopkGetWorkspaceSize(const aclTensor *self, int64_t k, int64_t dim, bool largest, bool sorted, aclTensor *valuesOut, aclTensor *indicesOut, uint64_t *wsSize, aclOpExecutor **executor) {
  const char *op = "aclnnTopk";
  TRY(EMU_CHECK(op, self, valuesOut, indicesOut));
  TRY(last_dim_tensor(op, "self", self));
  int64_t D = self->dims[self->ndim - 1];
  if (dim != -1 && dim != (int64_t)self->ndim - 1) return FAIL("%s: the emulator implements dim = -1 only", op);
  if (k < 0 || k > D) return FAIL("%s: k = %lld outside [0, %lld]", op, (long long)k, (long long)D);
  if (!sorted) return FAIL("%s: the emulator implements sorted = true only", op);
  TRY(same_shape(op, "valuesOut", valuesOut, "indicesOut", indicesOut));
  if (valuesOut->ndim != self->ndim || valuesOut->dims[valuesOut->ndim - 1] != k || emu_numel(valuesOut) != rows_of(self) * k)
    return FAIL("%s: valuesOut/indicesOut must be self's shape with last dim k = %lld", op, (long long)k);
  if (valuesOut->dtype != self->dtype) return FAIL("%s: valuesOut %s must match self %s", op, emu_dtype_name(valuesOut->dtype), emu_dtype_name(self->dtype));
  if (indicesOut->dtype != EMU_INT64) return FAIL("%s: indicesOut must be INT64, got %s", op, emu_dtype_name(indicesOut->dtype));
  aclOpExecutor *ex = emu_new_executor(op, run_topk, (uint64_t)D);
  EMU_KEEP(ex, self, valuesOut, indicesOut);
  ex->i[0] = k;
  ex->i[1] = largest;
  return emu_finish(ex, wsSize, executor);
}
LAUNCH(Topk)

/* ---------------- indexing along a dim ---------------- */
/* Offset in t of the element with coordinates `coord`, where coordinate `dim` is replaced by `at`. */
static int64_t coord_offset(const aclTensor *t, const int64_t *coord, int64_t dim, int64_t at) {
  int64_t off = t->offset;
  for (uint64_t d = 0; d < t->ndim; d++) off += ((int64_t)d == dim ? at : coord[d]) * t->strides[d];
  return off;
}
static void coords_of(const aclTensor *t, int64_t linear, int64_t *coord) {
  for (int64_t d = (int64_t)t->ndim - 1; d >= 0; d--) {
    coord[d] = linear % t->dims[d];
    linear /= t->dims[d];
  }
}
enum { I_SELECT, I_COPY, I_ADD };
static aclnnStatus run_index(aclOpExecutor *ex, void *ws) {
  (void)ws;
  const aclTensor *self = &ex->t[0], *index = &ex->t[1], *other = &ex->t[2]; /* other: out (select) or source */
  int64_t dim = ex->i[1], V = self->dims[dim], coord[EMU_MAX_DIMS];
  const aclTensor *walk = other; /* out or source: the index-shaped tensor */
  for (int64_t i = 0, n = emu_numel(walk); i < n; i++) {
    coords_of(walk, i, coord);
    int64_t j = coord[dim];
    double raw = emu_get(index, emu_offset(index, j));
    int64_t at = (int64_t)raw;
    if (raw < 0 || at >= V)
      return emu_fail(ACLNN_ERR_RUNTIME_ERROR, "%s: index[%lld] = %lld is outside [0, %lld) (device-side assert)", ex->op, (long long)j, (long long)at, (long long)V);
    int64_t so = coord_offset(self, coord, dim, at), wo = coord_offset(walk, coord, dim, j);
    if (ex->i[0] == I_SELECT) emu_set(other, wo, emu_get(self, so));
    else if (ex->i[0] == I_COPY) emu_set(self, so, emu_get(other, wo));
    else emu_set(self, so, emu_get(self, so) + ex->f[0] * emu_get(other, wo));
  }
  return ACL_SUCCESS;
}
static aclnnStatus index_op(const char *op, int code, const aclTensor *self, int64_t dim, const aclTensor *index, const aclTensor *other, const char *otherName, uint64_t *wsSize, aclOpExecutor **executor, double alpha) {
  TRY(EMU_CHECK(op, self, index));
  TRY(emu_check_tensor(op, otherName, other));
  if (dim < 0) dim += (int64_t)self->ndim;
  if (dim < 0 || dim >= (int64_t)self->ndim) return FAIL("%s: dim %lld out of range for %llu-D self", op, (long long)dim, (unsigned long long)self->ndim);
  if (index->ndim != 1 || !is_index(index->dtype)) return FAIL("%s: index must be a 1-D INT32/INT64 tensor, got %s with %llu dims", op, emu_dtype_name(index->dtype), (unsigned long long)index->ndim);
  bool ok = other->ndim == self->ndim;
  for (uint64_t d = 0; ok && d < self->ndim; d++) ok = other->dims[d] == ((int64_t)d == dim ? index->dims[0] : self->dims[d]);
  if (!ok) {
    char s1[128], s2[128];
    shape_text(self, s1, sizeof s1);
    shape_text(other, s2, sizeof s2);
    return FAIL("%s: %s %s must be self %s with dim %lld of size %lld", op, otherName, s2, s1, (long long)dim, (long long)index->dims[0]);
  }
  aclOpExecutor *ex = emu_new_executor(op, run_index, 0);
  EMU_KEEP(ex, self, index, other);
  ex->i[0] = code;
  ex->i[1] = dim;
  ex->f[0] = alpha;
  return emu_finish(ex, wsSize, executor);
}
aclnnStatus aclnnIndexSelectGetWorkspaceSize(const aclTensor *self, int64_t dim, const aclTensor *index, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  return index_op("aclnnIndexSelect", I_SELECT, self, dim, index, out, "out", wsSize, executor, 0);
}
LAUNCH(IndexSelect)
aclnnStatus aclnnInplaceIndexCopyGetWorkspaceSize(aclTensor *selfRef, int64_t dim, const aclTensor *index, const aclTensor *source, uint64_t *wsSize, aclOpExecutor **executor) {
  return index_op("aclnnInplaceIndexCopy", I_COPY, selfRef, dim, index, source, "source", wsSize, executor, 0);
}
LAUNCH(InplaceIndexCopy)
aclnnStatus aclnnIndexAddGetWorkspaceSize(const aclTensor *self, int64_t dim, const aclTensor *index, const aclTensor *source, const aclScalar *alpha, aclTensor *out, uint64_t *wsSize, aclOpExecutor **executor) {
  const char *op = "aclnnIndexAdd";
  TRY(check_scalar(op, "alpha", alpha));
  TRY(emu_check_tensor(op, "out", out));
  if (!self || out->data != self->data || out->offset != self->offset) return FAIL("%s: the emulator implements out == self (in-place accumulation) only", op);
  return index_op(op, I_ADD, self, dim, index, source, "source", wsSize, executor, alpha->value);
}
LAUNCH(IndexAdd)
