/* The MoE operators of libopapi.so (CANN ops-transformer) in the emulator: aclnnMoeGatingTopK,
 * aclnnMoeInitRoutingV2 and aclnnGroupedMatmulV4, with the published semantics and the published
 * argument constraints checked (see docs/backends/ascend.md for the sources). Only the modes the backend
 * uses are implemented; any other mode fails loudly instead of guessing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emu-op.h"

static bool float_io(int dtype) { return dtype == EMU_FLOAT || dtype == EMU_FLOAT16 || dtype == EMU_BF16; }
static double at2(const aclTensor *t, int64_t i, int64_t j) {
  return emu_get(t, t->offset + i * t->strides[0] + (t->ndim > 1 ? j * t->strides[1] : 0));
}
static void set2(const aclTensor *t, int64_t i, int64_t j, double v) {
  emu_set(t, t->offset + i * t->strides[0] + (t->ndim > 1 ? j * t->strides[1] : 0), v);
}
static bool dims_are(const aclTensor *t, uint64_t ndim, int64_t d0, int64_t d1) {
  return t->ndim == ndim && t->dims[0] == d0 && (ndim < 2 || t->dims[1] == d1);
}

/* ---------------- aclnnMoeGatingTopK ---------------- */
/* t: 0 x [N,E], 1 bias [E] (optional), 2 yOut [N,k], 3 expertIdxOut [N,k], 4 outOut [N,E];
 * i: 0 k, 1 kGroup, 2 groupCount, 3 groupSelectMode, 4 normType, 5 outFlag; f: 0 scaling, 1 eps. */
static aclnnStatus run_gating(aclOpExecutor *ex, void *ws) {
  const aclTensor *x = &ex->t[0], *bias = ex->present[1] ? &ex->t[1] : NULL, *y = &ex->t[2], *idx = &ex->t[3], *norm = &ex->t[4];
  int64_t N = x->dims[0], E = x->dims[1], k = ex->i[0], kGroup = ex->i[1], G = ex->i[2], per = E / G;
  float *score = ws, *choice = score + E, *groupScore = choice + E;
  unsigned char *keep = (unsigned char *)(groupScore + G);
  for (int64_t n = 0; n < N; n++) {
    double mx = -INFINITY, sum = 0;
    for (int64_t e = 0; e < E; e++) mx = fmax(mx, at2(x, n, e));
    for (int64_t e = 0; e < E; e++) {
      double v = at2(x, n, e);
      score[e] = ex->i[4] == 1 ? (float)(1 / (1 + exp(-v))) : (float)exp(v - mx);
      sum += score[e];
    }
    if (ex->i[4] == 0)
      for (int64_t e = 0; e < E; e++) score[e] = (float)(score[e] / sum);
    for (int64_t e = 0; e < E; e++) choice[e] = score[e] + (bias ? (float)at2(bias, e, 0) : 0.0f);
    if (ex->i[5])
      for (int64_t e = 0; e < E; e++) set2(norm, n, e, score[e]);
    /* group score: max (mode 0) or the sum of the two largest (mode 1) */
    for (int64_t g = 0; g < G; g++) {
      float a = -INFINITY, b = -INFINITY;
      for (int64_t j = 0; j < per; j++) {
        float v = choice[g * per + j];
        if (v > a) { b = a; a = v; } else if (v > b) b = v;
      }
      groupScore[g] = ex->i[3] == 1 ? a + b : a;
      keep[g] = 0;
    }
    for (int64_t j = 0; j < kGroup; j++) { /* the best kGroup groups, ties to the lower group */
      int64_t best = -1;
      for (int64_t g = 0; g < G; g++)
        if (!keep[g] && (best < 0 || groupScore[g] > groupScore[best])) best = g;
      keep[best] = 1;
    }
    for (int64_t e = 0; e < E; e++)
      if (!keep[e / per]) choice[e] = -INFINITY;
    double total = 0;
    for (int64_t j = 0; j < k; j++) { /* top-k of the masked choice, best first, ties to the lower expert */
      int64_t best = -1;
      for (int64_t e = 0; e < E; e++)
        if (!isnan(choice[e]) && (best < 0 || choice[e] > choice[best])) best = e;
      choice[best] = NAN;
      set2(idx, n, j, (double)best);
      total += score[best];
      set2(y, n, j, score[best]); /* the weight comes from the unbiased score */
    }
    for (int64_t j = 0; j < k; j++) {
      double w = at2(y, n, j);
      if (ex->i[4] == 1) w = w / (total + ex->f[1]); /* sigmoid: always renormalized */
      set2(y, n, j, w * ex->f[0]);
    }
  }
  return ACL_SUCCESS;
}
aclnnStatus aclnnMoeGatingTopKGetWorkspaceSize(const aclTensor *x, const aclTensor *biasOptional, int64_t k, int64_t kGroup,
                                               int64_t groupCount, int64_t groupSelectMode, int64_t renorm, int64_t normType,
                                               bool outFlag, double routedScalingFactor, double eps, const aclTensor *yOut,
                                               const aclTensor *expertIdxOut, const aclTensor *outOut, uint64_t *wsSize,
                                               aclOpExecutor **executor) {
  const char *op = "aclnnMoeGatingTopK";
  TRY(EMU_CHECK(op, x, yOut, expertIdxOut, outOut));
  if (x->ndim != 2 || !float_io(x->dtype)) return FAIL("%s: x must be a 2-D FLOAT16/BF16/FLOAT tensor, got %s with %llu dims", op, emu_dtype_name(x->dtype), (unsigned long long)x->ndim);
  int64_t N = x->dims[0], E = x->dims[1];
  if (biasOptional) {
    TRY(emu_check_tensor(op, "biasOptional", biasOptional));
    if (!dims_are(biasOptional, 1, E, 0) || biasOptional->dtype != x->dtype)
      return FAIL("%s: biasOptional must be [%lld] of x's dtype %s", op, (long long)E, emu_dtype_name(x->dtype));
  }
  if (E > 2048) return FAIL("%s: %lld experts; x's last dim must be <= 2048", op, (long long)E);
  if (groupCount <= 0 || E % groupCount != 0 || E / groupCount <= 2)
    return FAIL("%s: groupCount %lld must divide %lld experts into groups of more than 2", op, (long long)groupCount, (long long)E);
  if (((E / groupCount + 31) / 32) * 32 * groupCount > 2048)
    return FAIL("%s: groups of %lld experts aligned to 32, times groupCount %lld, exceed 2048", op, (long long)(E / groupCount), (long long)groupCount);
  if (kGroup < 1 || kGroup > groupCount) return FAIL("%s: kGroup %lld outside [1, groupCount = %lld]", op, (long long)kGroup, (long long)groupCount);
  if (k < 1 || k > E / groupCount * kGroup) return FAIL("%s: k %lld outside [1, %lld]", op, (long long)k, (long long)(E / groupCount * kGroup));
  if (renorm != 0) return FAIL("%s: renorm %lld; only 0 (norm, then top-k) is supported", op, (long long)renorm);
  if (groupSelectMode != 0 && groupSelectMode != 1) return FAIL("%s: groupSelectMode %lld is not 0 or 1", op, (long long)groupSelectMode);
  if (normType != 0 && normType != 1) return FAIL("%s: normType %lld is not 0 (softmax) or 1 (sigmoid)", op, (long long)normType);
  if (!dims_are(yOut, 2, N, k) || yOut->dtype != x->dtype) return FAIL("%s: yOut must be [%lld, %lld] of x's dtype", op, (long long)N, (long long)k);
  if (!dims_are(expertIdxOut, 2, N, k) || expertIdxOut->dtype != EMU_INT32) return FAIL("%s: expertIdxOut must be INT32 [%lld, %lld]", op, (long long)N, (long long)k);
  if (!dims_are(outOut, 2, N, E) || outOut->dtype != EMU_FLOAT) return FAIL("%s: outOut must be FLOAT [%lld, %lld]", op, (long long)N, (long long)E);
  aclOpExecutor *ex = emu_new_executor(op, run_gating, (uint64_t)(2 * E + groupCount) * 4 + (uint64_t)groupCount);
  EMU_KEEP(ex, x, biasOptional, yOut, expertIdxOut, outOut);
  ex->i[0] = k;
  ex->i[1] = kGroup;
  ex->i[2] = groupCount;
  ex->i[3] = groupSelectMode;
  ex->i[4] = normType;
  ex->i[5] = outFlag;
  ex->f[0] = routedScalingFactor;
  ex->f[1] = eps;
  return emu_finish(ex, wsSize, executor);
}
LAUNCH(MoeGatingTopK)

/* ---------------- aclnnMoeInitRoutingV2 (dropless) ---------------- */
/* t: 0 x [N,H], 1 expertIdx [N,K], 2 expandedXOut [N*K,H], 3 expandedRowIdxOut [N*K], 4 counts [E] (optional);
 * i: 0 expertNum, 1 expertTokensCountOrCumsumFlag. */
static aclnnStatus run_init_routing(aclOpExecutor *ex, void *ws) {
  const aclTensor *x = &ex->t[0], *idx = &ex->t[1], *xOut = &ex->t[2], *rowOut = &ex->t[3], *counts = ex->present[4] ? &ex->t[4] : NULL;
  int64_t N = x->dims[0], H = x->dims[1], K = idx->dims[1], total = N * K, E = ex->i[0];
  int64_t *expert = ws, *order = expert + total;
  for (int64_t i = 0; i < total; i++) {
    expert[i] = (int64_t)at2(idx, i / K, i % K);
    if (expert[i] < 0 || (counts && expert[i] >= E))
      return emu_fail(ACLNN_ERR_RUNTIME_ERROR, "aclnnMoeInitRoutingV2: expertIdx[%lld][%lld] = %lld is outside [0, %lld) (device-side assert)", (long long)(i / K), (long long)(i % K), (long long)expert[i], (long long)E);
    order[i] = i;
  }
  /* keyValueSort: by expert, stable in the flattened row index (insertion sort: small inputs) */
  for (int64_t i = 1; i < total; i++) {
    int64_t v = order[i], j = i - 1;
    while (j >= 0 && expert[order[j]] > expert[v]) { order[j + 1] = order[j]; j--; }
    order[j + 1] = v;
  }
  for (int64_t i = 0; i < total; i++) {
    int64_t src = order[i];
    emu_set(rowOut, rowOut->offset + src * rowOut->strides[0], (double)i);
    for (int64_t h = 0; h < H; h++) set2(xOut, i, h, at2(x, src / K, h));
  }
  if (counts) {
    int64_t running = 0;
    for (int64_t e = 0; e < E; e++) {
      int64_t c = 0;
      for (int64_t i = 0; i < total; i++) c += expert[i] == e;
      running += c;
      emu_set(counts, counts->offset + e * counts->strides[0], (double)(ex->i[1] == 1 ? running : c));
    }
  }
  return ACL_SUCCESS;
}
aclnnStatus aclnnMoeInitRoutingV2GetWorkspaceSize(const aclTensor *x, const aclTensor *expertIdx, int64_t activeNum, int64_t expertCapacity,
                                                  int64_t expertNum, int64_t dropPadMode, int64_t expertTokensCountOrCumsumFlag,
                                                  bool expertTokensBeforeCapacityFlag, const aclTensor *expandedXOut,
                                                  const aclTensor *expandedRowIdxOut, const aclTensor *expertTokensCountOrCumsumOut,
                                                  const aclTensor *expertTokensBeforeCapacityOut, uint64_t *wsSize, aclOpExecutor **executor) {
  const char *op = "aclnnMoeInitRoutingV2";
  TRY(EMU_CHECK(op, x, expertIdx, expandedXOut, expandedRowIdxOut));
  if (x->ndim != 2 || expertIdx->ndim != 2 || x->dims[0] != expertIdx->dims[0])
    return FAIL("%s: x [N, H] and expertIdx [N, K] must be 2-D with the same N", op);
  if (!float_io(x->dtype)) return FAIL("%s: x is %s, expected FLOAT16, BF16 or FLOAT", op, emu_dtype_name(x->dtype));
  if (expertIdx->dtype != EMU_INT32) return FAIL("%s: expertIdx is %s; Atlas A2/A3 take INT32", op, emu_dtype_name(expertIdx->dtype));
  if (activeNum < 0 || expertCapacity < 0 || expertNum < 0) return FAIL("%s: activeNum, expertCapacity and expertNum must be >= 0", op);
  if (dropPadMode != 0) return FAIL("%s: the emulator implements dropPadMode 0 (dropless) only", op);
  int64_t N = x->dims[0], H = x->dims[1], total = N * expertIdx->dims[1];
  if (activeNum != 0 && activeNum < total) return FAIL("%s: the emulator implements activeNum 0 (dropless) or >= N*K only", op);
  if (expertTokensCountOrCumsumFlag < 0 || expertTokensCountOrCumsumFlag > 2) return FAIL("%s: expertTokensCountOrCumsumFlag %lld is not 0, 1 or 2", op, (long long)expertTokensCountOrCumsumFlag);
  if (expertTokensBeforeCapacityFlag || expertTokensBeforeCapacityOut) return FAIL("%s: expertTokensBeforeCapacity is a drop/pad output; dropless calls pass false/null", op);
  if (!dims_are(expandedXOut, 2, total, H) || expandedXOut->dtype != x->dtype) return FAIL("%s: expandedXOut must be [%lld, %lld] of x's dtype", op, (long long)total, (long long)H);
  if (!dims_are(expandedRowIdxOut, 1, total, 0) || expandedRowIdxOut->dtype != EMU_INT32) return FAIL("%s: expandedRowIdxOut must be INT32 [%lld]", op, (long long)total);
  if (expertTokensCountOrCumsumFlag > 0) {
    if (expertNum <= 0) return FAIL("%s: expertNum must be > 0 when expertTokensCountOrCumsumOut is wanted", op);
    TRY(emu_check_tensor(op, "expertTokensCountOrCumsumOut", expertTokensCountOrCumsumOut));
    if (!dims_are(expertTokensCountOrCumsumOut, 1, expertNum, 0) || expertTokensCountOrCumsumOut->dtype != EMU_INT32)
      return FAIL("%s: expertTokensCountOrCumsumOut must be INT32 [%lld]", op, (long long)expertNum);
  }
  aclOpExecutor *ex = emu_new_executor(op, run_init_routing, (uint64_t)(2 * (total ? total : 1)) * 8);
  EMU_KEEP(ex, x, expertIdx, expandedXOut, expandedRowIdxOut);
  if (expertTokensCountOrCumsumFlag > 0) emu_keep(ex, 4, expertTokensCountOrCumsumOut);
  ex->i[0] = expertNum;
  ex->i[1] = expertTokensCountOrCumsumFlag;
  return emu_finish(ex, wsSize, executor);
}
LAUNCH(MoeInitRoutingV2)

/* ---------------- aclnnGroupedMatmulV4 (no quantization, M-axis groups) ---------------- */
/* Two forms (groupType 0, splitItem 2/3): x/out single [M,K]/[M,N] with weight either a list of G
 * tensors [K,N] ("single-multi-single", at most 128) or one tensor [G,K,N] ("single-single-single",
 * at most 1024 groups; the only form that runs FLOAT32). t: 0 x, 1 groupList [G], 2 out, 3 the 3-D
 * weight (when single); extra: the list weights; i: 0 groupListType, 1 groups. */
static aclnnStatus run_grouped_matmul(aclOpExecutor *ex, void *ws) {
  const aclTensor *x = &ex->t[0], *list = &ex->t[1], *out = &ex->t[2];
  bool single = ex->present[3];
  int64_t M = x->dims[0], K = x->dims[1], N = out->dims[1], G = ex->i[1], start = 0;
  float *acc = ws;
  for (int64_t g = 0; g < G; g++) {
    int64_t v = (int64_t)emu_get(list, list->offset + g * list->strides[0]);
    int64_t end = ex->i[0] == 0 ? v : start + v;
    if (v < 0 || end < start || end > M)
      return emu_fail(ACLNN_ERR_RUNTIME_ERROR, "aclnnGroupedMatmulV4: groupListOptional[%lld] = %lld gives rows [%lld, %lld) outside the %lld rows of x", (long long)g, (long long)v, (long long)start, (long long)end, (long long)M);
    const aclTensor *w = single ? &ex->t[3] : &ex->extra[g];
    int64_t base = w->offset + (single ? g * w->strides[0] : 0), s0 = w->strides[single], s1 = w->strides[single + 1];
    for (int64_t m = start; m < end; m++) {
      for (int64_t n = 0; n < N; n++) {
        double s = 0;
        for (int64_t kk = 0; kk < K; kk++) s += at2(x, m, kk) * emu_get(w, base + kk * s0 + n * s1);
        acc[n] = (float)s;
      }
      for (int64_t n = 0; n < N; n++) set2(out, m, n, acc[n]);
    }
    start = end;
  }
  if (start != M)
    return emu_fail(ACLNN_ERR_RUNTIME_ERROR, "aclnnGroupedMatmulV4: groupListOptional covers %lld rows but x has %lld (the last cumsum / the sum of counts must equal M)", (long long)start, (long long)M);
  return ACL_SUCCESS;
}
aclnnStatus aclnnGroupedMatmulV4GetWorkspaceSize(
    const aclTensorList *x, const aclTensorList *weight, const aclTensorList *biasOptional, const aclTensorList *scaleOptional,
    const aclTensorList *offsetOptional, const aclTensorList *antiquantScaleOptional, const aclTensorList *antiquantOffsetOptional,
    const aclTensorList *perTokenScaleOptional, const aclTensor *groupListOptional, const aclTensorList *activationInputOptional,
    const aclTensorList *activationQuantScaleOptional, const aclTensorList *activationQuantOffsetOptional, int64_t splitItem,
    int64_t groupType, int64_t groupListType, int64_t actType, aclTensorList *out, aclTensorList *activationFeatureOutOptional,
    aclTensorList *dynQuantScaleOutOptional, uint64_t *wsSize, aclOpExecutor **executor) {
  const char *op = "aclnnGroupedMatmulV4";
  TRY(emu_check_list(op, "x", x));
  TRY(emu_check_list(op, "weight", weight));
  TRY(emu_check_list(op, "out", out));
  if (biasOptional || scaleOptional || offsetOptional || antiquantScaleOptional || antiquantOffsetOptional || perTokenScaleOptional ||
      activationInputOptional || activationQuantScaleOptional || activationQuantOffsetOptional || activationFeatureOutOptional ||
      dynQuantScaleOutOptional)
    return FAIL("%s: the emulator implements the unquantized form without bias or activation outputs only (pass null lists)", op);
  if (actType != 0) return FAIL("%s: actType %lld; the emulator implements 0 (no activation) only", op, (long long)actType);
  if (groupType != 0) return FAIL("%s: groupType %lld; the emulator implements 0 (groups along M) only", op, (long long)groupType);
  if (splitItem != 2 && splitItem != 3) return FAIL("%s: splitItem %lld; groupType 0 with one x tensor takes 2/3 (one output tensor)", op, (long long)splitItem);
  if (groupListType != 0 && groupListType != 1) return FAIL("%s: groupListType %lld is not 0 (cumsum) or 1 (counts)", op, (long long)groupListType);
  if (x->size != 1 || out->size != 1) return FAIL("%s: x and out must each be one tensor (single-tensor form), got %llu and %llu", op, (unsigned long long)x->size, (unsigned long long)out->size);
  const aclTensor *xt = x->items[0], *ot = out->items[0];
  if (xt->ndim != 2 || ot->ndim != 2) return FAIL("%s: x and out must be 2-D", op);
  if (xt->strides[1] != 1) return FAIL("%s: x must not be transposed", op);
  int64_t M = xt->dims[0], K = xt->dims[1], N = ot->dims[1];
  if (ot->dims[0] != M) return FAIL("%s: out has %lld rows, x %lld", op, (long long)ot->dims[0], (long long)M);
  if (!float_io(xt->dtype) || ot->dtype != xt->dtype)
    return FAIL("%s: x %s and out %s must share FLOAT16, BF16 or FLOAT", op, emu_dtype_name(xt->dtype), emu_dtype_name(ot->dtype));
  bool single = weight->size == 1 && weight->items[0]->ndim == 3;
  int64_t G;
  if (single) {
    const aclTensor *w = weight->items[0];
    G = w->dims[0];
    if (G < 1 || G > 1024 || w->dims[1] != K || w->dims[2] != N || w->dtype != xt->dtype)
      return FAIL("%s: weight must be %s [G <= 1024, %lld, %lld] (K x N per group, transposed views allowed)", op, emu_dtype_name(xt->dtype), (long long)K, (long long)N);
  } else {
    G = (int64_t)weight->size;
    if (G > 128) return FAIL("%s: weight holds %lld tensors; a list takes at most 128", op, (long long)G);
    if (xt->dtype == EMU_FLOAT) return FAIL("%s: FLOAT runs only with x, weight and out each one tensor (weight [G, K, N]); a weight list takes FLOAT16 or BF16", op);
    bool transposed = weight->items[0]->ndim == 2 && weight->items[0]->strides[0] == 1 && weight->items[0]->dims[1] > 1;
    for (int64_t g = 0; g < G; g++) {
      const aclTensor *w = weight->items[g];
      if (!dims_are(w, 2, K, N) || w->dtype != xt->dtype)
        return FAIL("%s: weight[%lld] must be %s [%lld, %lld] (K x N, transposed views allowed)", op, (long long)g, emu_dtype_name(xt->dtype), (long long)K, (long long)N);
      if ((w->strides[0] == 1 && N > 1) != transposed) return FAIL("%s: weight[%lld]: every weight of the list must be transposed alike", op, (long long)g);
    }
  }
  if (!groupListOptional) return FAIL("%s: groupListOptional is required with groupType 0 and one x tensor", op);
  TRY(emu_check_tensor(op, "groupListOptional", groupListOptional));
  if (!dims_are(groupListOptional, 1, G, 0) || groupListOptional->dtype != EMU_INT64)
    return FAIL("%s: groupListOptional must be INT64 [%lld] (one entry per group), got %s with %llu dims", op, (long long)G, emu_dtype_name(groupListOptional->dtype), (unsigned long long)groupListOptional->ndim);
  aclOpExecutor *ex = emu_new_executor(op, run_grouped_matmul, (uint64_t)(N ? N : 1) * 4);
  EMU_KEEP(ex, xt, groupListOptional, ot);
  if (single) emu_keep(ex, 3, weight->items[0]);
  else emu_keep_list(ex, weight);
  ex->i[0] = groupListType;
  ex->i[1] = G;
  return emu_finish(ex, wsSize, executor);
}
LAUNCH(GroupedMatmulV4)
