import { describe, expect, it } from 'vitest';
import { CublasLt, cublasLtCandidates } from './cublas-lt.js';
import { cudaSettings } from './cuda-settings.js';

describe('cuBLASLt loading', () => {
  it('is disabled by DSA_CUDA_CUBLASLT=0 with a reason', () => {
    expect(CublasLt.open(cudaSettings({}, { DSA_CUDA_CUBLASLT: '0' }))).toBeNull();
    expect(CublasLt.unavailableReason).toContain('DSA_CUDA_CUBLASLT=0');
  });

  it('tries DSA_CUDA_CUBLASLT_PATH first, then libcublasLt.so.13 before .12', () => {
    const settings = cudaSettings({}, { DSA_CUDA_CUBLASLT_PATH: '/opt/x/libcublasLt.so.12' });
    const candidates = cublasLtCandidates(settings.cublasLtPath);
    expect(candidates[0]).toBe('/opt/x/libcublasLt.so.12');
    expect(candidates.indexOf('libcublasLt.so.13')).toBeLessThan(candidates.indexOf('libcublasLt.so.12'));
  });

  it('reports a missing library instead of throwing', () => {
    const lt = CublasLt.open(cudaSettings({ cublasLtPath: '/nonexistent/libcublasLt.so.13' }, {}));
    // This machine has no cuBLAS; a machine that has one opens it.
    if (lt === null) expect(CublasLt.unavailableReason).toContain('DSA_CUDA_CUBLASLT_PATH');
    else expect(lt.path).toContain('libcublasLt');
  });
});
