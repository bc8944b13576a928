/* libcust_opapi.so of the emulator: the DSA custom operators Huawei published for DeepSeek-V3.2
 * (cann-recipes-infer / ops-transformer). LightningIndexer in its original custom-op signature:
 * TND query, PA_BSND key with a block table, sparse_mode 0 or 3 (rightDownCausal). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "emu-op.h"

static double at(const aclTensor *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
  int64_t o = t->offset + i0 * t->strides[0];
  if (t->ndim > 1) o += i1 * t->strides[1];
  if (t->ndim > 2) o += i2 * t->strides[2];
  if (t->ndim > 3) o += i3 * t->strides[3];
  return emu_get(t, o);
}

/* t[0] query [T,N,D], t[1] key [blocks,bs,1,D], t[2] weights [T,N], t[3] asq [B] (prefix sums),
 * t[4] ask [B], t[5] blockTable [B,maxBlocks], t[6] out [T,1,k]; i[0] k, i[1] sparseMode. */
static aclnnStatus run_lightning_indexer(aclOpExecutor *ex, void *ws) {
  const aclTensor *q = &ex->t[0], *key = &ex->t[1], *w = &ex->t[2], *asq = &ex->t[3], *ask = &ex->t[4],
                  *table = &ex->t[5], *out = &ex->t[6];
  int64_t N = q->dims[1], D = q->dims[2], bs = key->dims[1], blocks = key->dims[0], k = ex->i[0];
  int64_t B = asq->dims[0], maxBlocks = table->dims[1], start = 0;
  float *score = ws;
  for (int64_t b = 0; b < B; b++) {
    int64_t end = (int64_t)emu_get(asq, asq->offset + b * asq->strides[0]);
    int64_t s2 = (int64_t)emu_get(ask, ask->offset + b * ask->strides[0]), s1 = end - start;
    if (end < start || end > q->dims[0]) return emu_fail(ACLNN_ERR_RUNTIME_ERROR, "aclnnLightningIndexer: actualSeqLengthsQuery[%lld] = %lld is not a non-decreasing prefix sum within T = %lld", (long long)b, (long long)end, (long long)q->dims[0]);
    if (s2 < 0 || s2 > maxBlocks * bs) return emu_fail(ACLNN_ERR_RUNTIME_ERROR, "aclnnLightningIndexer: actualSeqLengthsKey[%lld] = %lld exceeds the block table (%lld blocks of %lld)", (long long)b, (long long)s2, (long long)maxBlocks, (long long)bs);
    for (int64_t i = 0; i < s1; i++) {
      int64_t token = start + i, limit = ex->i[1] == 3 ? s2 - s1 + i : s2 - 1;
      if (limit > s2 - 1) limit = s2 - 1;
      for (int64_t t = 0; t <= limit; t++) {
        int64_t block = (int64_t)emu_get(table, table->offset + b * table->strides[0] + (t / bs) * table->strides[1]);
        if (block < 0 || block >= blocks) return emu_fail(ACLNN_ERR_RUNTIME_ERROR, "aclnnLightningIndexer: blockTable[%lld][%lld] = %lld is outside [0, %lld)", (long long)b, (long long)(t / bs), (long long)block, (long long)blocks);
        double s = 0;
        for (int64_t h = 0; h < N; h++) {
          double dot = 0;
          for (int64_t d = 0; d < D; d++) dot += at(q, token, h, d, 0) * at(key, block, t % bs, 0, d);
          if (dot > 0) s += at(w, token, h, 0, 0) * (float)dot;
        }
        score[t] = (float)s;
      }
      /* top-k by score, ties to the lower position; valid entries first, then -1 */
      for (int64_t j = 0; j < k; j++) {
        int64_t best = -1;
        for (int64_t t = 0; t <= limit; t++)
          if (!isnan(score[t]) && (best < 0 || score[t] > score[best])) best = t;
        emu_set(out, out->offset + token * out->strides[0] + j * out->strides[2], (double)best);
        if (best >= 0) score[best] = NAN;
      }
    }
    start = end;
  }
  return ACL_SUCCESS;
}

aclnnStatus aclnnLightningIndexerGetWorkspaceSize(const aclTensor *query, const aclTensor *key, const aclTensor *weights,
                                                  const aclTensor *actualSeqLengthsQueryOptional,
                                                  const aclTensor *actualSeqLengthsKeyOptional,
                                                  const aclTensor *blockTableOptional, char *layoutQuery, char *layoutKey,
                                                  int64_t sparseCount, int64_t sparseMode, const aclTensor *sparseIndicesOut,
                                                  uint64_t *workspaceSize, aclOpExecutor **executor) {
  const char *op = "aclnnLightningIndexer";
  TRY(EMU_CHECK(op, query, key, weights, sparseIndicesOut));
  if (!layoutQuery || !layoutKey) return emu_fail(ACLNN_ERR_PARAM_NULLPTR, "%s: layoutQuery/layoutKey is null", op);
  if (strcmp(layoutQuery, "TND") != 0 || strcmp(layoutKey, "PA_BSND") != 0)
    return FAIL("%s: the emulator implements layoutQuery \"TND\" with layoutKey \"PA_BSND\", got \"%s\"/\"%s\"", op, layoutQuery, layoutKey);
  if (!actualSeqLengthsQueryOptional || !actualSeqLengthsKeyOptional || !blockTableOptional)
    return emu_fail(ACLNN_ERR_PARAM_NULLPTR, "%s: TND + PA_BSND needs actualSeqLengthsQuery, actualSeqLengthsKey and blockTable", op);
  TRY(emu_check_tensor(op, "actualSeqLengthsQuery", actualSeqLengthsQueryOptional));
  TRY(emu_check_tensor(op, "actualSeqLengthsKey", actualSeqLengthsKeyOptional));
  TRY(emu_check_tensor(op, "blockTable", blockTableOptional));
  if (query->ndim != 3) return FAIL("%s: TND query must be 3-D [T, N, D]", op);
  int64_t T = query->dims[0], N = query->dims[1], D = query->dims[2];
  if (query->dtype != EMU_BF16 && query->dtype != EMU_FLOAT16) return FAIL("%s: query must be BF16 or FLOAT16, got %s", op, emu_dtype_name(query->dtype));
  if (N < 1 || N > 64 || D != 128) return FAIL("%s: query heads N = %lld must be in 1..64 and head dim D = %lld must be 128", op, (long long)N, (long long)D);
  if (key->ndim != 4 || key->dims[2] != 1 || key->dims[3] != D || key->dtype != query->dtype)
    return FAIL("%s: PA_BSND key must be [blockCount, blockSize, 1, %lld] %s", op, (long long)D, emu_dtype_name(query->dtype));
  if (key->dims[1] % 16 != 0 || key->dims[1] > 1024) return FAIL("%s: blockSize %lld must be a multiple of 16 and at most 1024", op, (long long)key->dims[1]);
  if (weights->ndim != 2 || weights->dims[0] != T || weights->dims[1] != N || (weights->dtype != query->dtype && weights->dtype != EMU_FLOAT))
    return FAIL("%s: weights must be [%lld, %lld] of the query dtype or FLOAT", op, (long long)T, (long long)N);
  const aclTensor *asq = actualSeqLengthsQueryOptional, *ask = actualSeqLengthsKeyOptional, *table = blockTableOptional;
  if (asq->ndim != 1 || ask->ndim != 1 || asq->dims[0] != ask->dims[0] || asq->dtype != EMU_INT32 || ask->dtype != EMU_INT32)
    return FAIL("%s: actualSeqLengthsQuery and actualSeqLengthsKey must be INT32 [B] of equal length", op);
  if (table->ndim != 2 || table->dims[0] != asq->dims[0] || table->dtype != EMU_INT32)
    return FAIL("%s: blockTable must be INT32 [B, maxBlocks] with B = %lld", op, (long long)asq->dims[0]);
  if (sparseCount < 1 || sparseCount > 2048) return FAIL("%s: sparseCount %lld outside 1..2048", op, (long long)sparseCount);
  if (sparseMode != 0 && sparseMode != 3) return FAIL("%s: sparseMode %lld; 0 (no mask) and 3 (rightDownCausal) are supported", op, (long long)sparseMode);
  if (sparseIndicesOut->ndim != 3 || sparseIndicesOut->dims[0] != T || sparseIndicesOut->dims[1] != 1 ||
      sparseIndicesOut->dims[2] != sparseCount || sparseIndicesOut->dtype != EMU_INT32)
    return FAIL("%s: sparseIndicesOut must be INT32 [%lld, 1, %lld]", op, (long long)T, (long long)sparseCount);
  aclOpExecutor *ex = emu_new_executor(op, run_lightning_indexer, (uint64_t)(table->dims[1] * key->dims[1]) * 4);
  EMU_KEEP(ex, query, key, weights, asq, ask, table, sparseIndicesOut);
  ex->i[0] = sparseCount;
  ex->i[1] = sparseMode;
  return emu_finish(ex, workspaceSize, executor);
}

LAUNCH(LightningIndexer)

/* SparseFlashAttention, absorbed MLA: t[0] query [T,N,D], t[1] key [blocks,bs,1,D] (value = key),
 * t[2] sparseIndices [T,1,K], t[3] blockTable [B,maxBlocks], t[4] asq [B] (prefix sums), t[5] askv [B],
 * t[6] queryRope [T,N,R], t[7] keyRope [blocks,bs,1,R], t[8] out [T,N,D]; f[0] scale. */
static aclnnStatus run_sparse_flash_attention(aclOpExecutor *ex, void *ws) {
  const aclTensor *q = &ex->t[0], *key = &ex->t[1], *idx = &ex->t[2], *table = &ex->t[3], *asq = &ex->t[4],
                  *askv = &ex->t[5], *qr = &ex->t[6], *kr = &ex->t[7], *out = &ex->t[8];
  int64_t N = q->dims[1], D = q->dims[2], R = qr->dims[2], K = idx->dims[2], bs = key->dims[1], blocks = key->dims[0];
  int64_t B = asq->dims[0], start = 0;
  double *logit = ws;
  int64_t *slot = (int64_t *)((char *)ws + (size_t)K * sizeof(double));
  for (int64_t b = 0; b < B; b++) {
    int64_t end = (int64_t)emu_get(asq, asq->offset + b * asq->strides[0]);
    int64_t s2 = (int64_t)emu_get(askv, askv->offset + b * askv->strides[0]), s1 = end - start;
    if (end < start || end > q->dims[0]) return emu_fail(ACLNN_ERR_RUNTIME_ERROR, "aclnnSparseFlashAttention: actualSeqLengthsQuery is not a prefix sum within T");
    for (int64_t i = 0; i < s1; i++) {
      int64_t token = start + i, limit = s2 - s1 + i, valid = 0;
      for (int64_t j = 0; j < K; j++) {
        int64_t p = (int64_t)emu_get(idx, idx->offset + token * idx->strides[0] + j * idx->strides[2]);
        if (p < 0) break; /* valid entries first: the first -1 ends the list */
        if (p > limit) return emu_fail(ACLNN_ERR_RUNTIME_ERROR, "aclnnSparseFlashAttention: sparseIndices[%lld][%lld] = %lld is beyond the causal limit %lld (sparse_mode 3)", (long long)token, (long long)j, (long long)p, (long long)limit);
        int64_t block = (int64_t)emu_get(table, table->offset + b * table->strides[0] + (p / bs) * table->strides[1]);
        if (block < 0 || block >= blocks) return emu_fail(ACLNN_ERR_RUNTIME_ERROR, "aclnnSparseFlashAttention: blockTable[%lld][%lld] = %lld is outside [0, %lld)", (long long)b, (long long)(p / bs), (long long)block, (long long)blocks);
        slot[valid++] = block * bs + p % bs;
      }
      for (int64_t h = 0; h < N; h++) {
        double max = -INFINITY, sum = 0;
        for (int64_t j = 0; j < valid; j++) {
          int64_t blk = slot[j] / bs, off = slot[j] % bs;
          double dot = 0;
          for (int64_t d = 0; d < D; d++) dot += at(q, token, h, d, 0) * at(key, blk, off, 0, d);
          for (int64_t d = 0; d < R; d++) dot += at(qr, token, h, d, 0) * at(kr, blk, off, 0, d);
          logit[j] = dot * ex->f[0];
          if (logit[j] > max) max = logit[j];
        }
        for (int64_t j = 0; j < valid; j++) sum += (logit[j] = exp(logit[j] - max));
        for (int64_t d = 0; d < D; d++) {
          double acc = 0;
          for (int64_t j = 0; j < valid; j++) acc += logit[j] * at(key, slot[j] / bs, slot[j] % bs, 0, d);
          emu_set(out, out->offset + token * out->strides[0] + h * out->strides[1] + d * out->strides[2], valid ? acc / sum : 0);
        }
      }
    }
    start = end;
  }
  return ACL_SUCCESS;
}

aclnnStatus aclnnSparseFlashAttentionGetWorkspaceSize(
    const aclTensor *query, const aclTensor *key, const aclTensor *value, const aclTensor *sparseIndices,
    const aclTensor *blockTableOptional, const aclTensor *actualSeqLengthsQueryOptional,
    const aclTensor *actualSeqLengthsKvOptional, const aclTensor *queryRopeOptional, const aclTensor *keyRopeOptional,
    double scaleValue, int64_t sparseBlockSize, char *layoutQueryOptional, char *layoutKvOptional, int64_t sparseMode,
    const aclTensor *out, uint64_t *workspaceSize, aclOpExecutor **executor) {
  const char *op = "aclnnSparseFlashAttention";
  TRY(EMU_CHECK(op, query, key, value, sparseIndices, out));
  if (!blockTableOptional || !actualSeqLengthsQueryOptional || !actualSeqLengthsKvOptional || !queryRopeOptional || !keyRopeOptional)
    return emu_fail(ACLNN_ERR_PARAM_NULLPTR, "%s: absorbed MLA with TND query and PA_BSND cache needs blockTable, both actualSeqLengths, queryRope and keyRope", op);
  TRY(emu_check_tensor(op, "blockTable", blockTableOptional));
  TRY(emu_check_tensor(op, "actualSeqLengthsQuery", actualSeqLengthsQueryOptional));
  TRY(emu_check_tensor(op, "actualSeqLengthsKv", actualSeqLengthsKvOptional));
  TRY(emu_check_tensor(op, "queryRope", queryRopeOptional));
  TRY(emu_check_tensor(op, "keyRope", keyRopeOptional));
  if (!layoutQueryOptional || !layoutKvOptional || strcmp(layoutQueryOptional, "TND") != 0 || strcmp(layoutKvOptional, "PA_BSND") != 0)
    return FAIL("%s: the emulator implements layoutQuery \"TND\" with layoutKv \"PA_BSND\"", op);
  if (query->ndim != 3) return FAIL("%s: TND query must be [T, N, D]", op);
  int64_t T = query->dims[0], N = query->dims[1], D = query->dims[2];
  if (query->dtype != EMU_BF16 && query->dtype != EMU_FLOAT16) return FAIL("%s: query must be BF16 or FLOAT16, got %s", op, emu_dtype_name(query->dtype));
  if (D != 512 || N < 1 || N > 128 || (N & (N - 1))) return FAIL("%s: query must be [T, N, 512] with N a power of two up to 128 (got N = %lld, D = %lld)", op, (long long)N, (long long)D);
  if (key->ndim != 4 || key->dims[2] != 1 || key->dims[3] != D || key->dtype != query->dtype) return FAIL("%s: key must be [blocks, blockSize, 1, 512] of the query dtype", op);
  if (value->data != key->data || value->offset != key->offset) return FAIL("%s: absorbed MLA needs value = key (the latent cache)", op);
  const aclTensor *qr = queryRopeOptional, *kr = keyRopeOptional, *idx = sparseIndices;
  if (qr->ndim != 3 || qr->dims[0] != T || qr->dims[1] != N || qr->dims[2] != 64 || qr->dtype != query->dtype) return FAIL("%s: queryRope must be [%lld, %lld, 64]", op, (long long)T, (long long)N);
  if (kr->ndim != 4 || kr->dims[0] != key->dims[0] || kr->dims[1] != key->dims[1] || kr->dims[2] != 1 || kr->dims[3] != 64 || kr->dtype != query->dtype)
    return FAIL("%s: keyRope must be [blocks, blockSize, 1, 64]", op);
  if (idx->ndim != 3 || idx->dims[0] != T || idx->dims[1] != 1 || idx->dtype != EMU_INT32) return FAIL("%s: sparseIndices must be INT32 [%lld, 1, topk]", op, (long long)T);
  if (sparseBlockSize != 1) return FAIL("%s: sparseBlockSize %lld; token-level DSA uses 1", op, (long long)sparseBlockSize);
  if (sparseMode != 3) return FAIL("%s: sparseMode %lld; the emulator implements 3 (rightDownCausal)", op, (long long)sparseMode);
  if (out->ndim != 3 || out->dims[0] != T || out->dims[1] != N || out->dims[2] != D || out->dtype != query->dtype) return FAIL("%s: out must be [T, N, 512] of the query dtype", op);
  if (blockTableOptional->ndim != 2 || blockTableOptional->dtype != EMU_INT32 || actualSeqLengthsQueryOptional->dtype != EMU_INT32 ||
      actualSeqLengthsKvOptional->dtype != EMU_INT32 || actualSeqLengthsQueryOptional->dims[0] != actualSeqLengthsKvOptional->dims[0] ||
      blockTableOptional->dims[0] != actualSeqLengthsQueryOptional->dims[0])
    return FAIL("%s: blockTable INT32 [B, maxBlocks] and actualSeqLengths INT32 [B] must agree on B", op);
  aclOpExecutor *ex = emu_new_executor(op, run_sparse_flash_attention, (uint64_t)idx->dims[2] * 16);
  EMU_KEEP(ex, query, key, sparseIndices, blockTableOptional,
           actualSeqLengthsQueryOptional, actualSeqLengthsKvOptional, queryRopeOptional, keyRopeOptional, out);
  ex->f[0] = scaleValue;
  return emu_finish(ex, workspaceSize, executor);
}

LAUNCH(SparseFlashAttention)
