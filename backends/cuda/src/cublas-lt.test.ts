import { afterEach, describe, expect, it } from 'vitest';
import { CublasLt, cublasLtCandidates } from './cublas-lt.js';

describe('cuBLASLt loading', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('is disabled by DSA_CUDA_CUBLASLT=0 with a reason', () => {
    process.env.DSA_CUDA_CUBLASLT = '0';
    expect(CublasLt.open()).toBeNull();
    expect(CublasLt.unavailableReason).toContain('DSA_CUDA_CUBLASLT=0');
  });

  it('tries DSA_CUDA_CUBLASLT_PATH first, then libcublasLt.so.13 before .12', () => {
    process.env.DSA_CUDA_CUBLASLT_PATH = '/opt/x/libcublasLt.so.12';
    const candidates = cublasLtCandidates();
    expect(candidates[0]).toBe('/opt/x/libcublasLt.so.12');
    expect(candidates.indexOf('libcublasLt.so.13')).toBeLessThan(candidates.indexOf('libcublasLt.so.12'));
  });

  it('reports a missing library instead of throwing', () => {
    process.env.DSA_CUDA_CUBLASLT_PATH = '/nonexistent/libcublasLt.so.13';
    const lt = CublasLt.open();
    // This machine has no cuBLAS; a machine that has one opens it.
    if (lt === null) expect(CublasLt.unavailableReason).toContain('DSA_CUDA_CUBLASLT_PATH');
    else expect(lt.path).toContain('libcublasLt');
  });
});
