import { InvalidSettingError } from '@dsa/backend';
import { describe, expect, it } from 'vitest';
import { CUDA_DEFAULT_SETTINGS, cudaSettings } from './cuda-settings.js';

describe('cuda settings', () => {
  it('are the defaults when neither settings nor the environment say otherwise', () => {
    expect(cudaSettings({}, {})).toEqual(CUDA_DEFAULT_SETTINGS);
    expect(CUDA_DEFAULT_SETTINGS.gemmStagingBytes).toBe(256 * 1024 * 1024);
  });

  it('take the given fields, and the DSA_CUDA_* variables override them', () => {
    const given = { profile: true, profileLeadMs: 50, mlaSplit: 'off', gemm: false };
    expect(cudaSettings(given, {})).toMatchObject({
      profile: true,
      profileLeadMs: 50,
      mlaSplit: 'off',
      gemm: false,
    });
    const env = {
      DSA_CUDA_PROFILE: '0',
      DSA_CUDA_PROFILE_LEAD_MS: '2.5',
      DSA_CUDA_MLA_SPLIT: '1',
      DSA_CUDA_MLA_MMA: 'off',
      DSA_CUDA_GEMM_STAGING_BYTES: '6400',
      DSA_CUDA_FATBIN: '/x/k.fatbin',
    };
    expect(cudaSettings(given, env)).toMatchObject({
      profile: false,
      profileLeadMs: 2.5,
      mlaSplit: 'on',
      mlaTensorCores: 'off',
      gemmStagingBytes: 6400,
      fatbin: '/x/k.fatbin',
      gemm: false,
    });
  });

  it('reject bad values naming the variable or field and the value', () => {
    expect(() => cudaSettings({}, { DSA_CUDA_PROFILE: 'yes' })).toThrow(
      new InvalidSettingError('DSA_CUDA_PROFILE', '"yes" is not 1 or 0'),
    );
    expect(() => cudaSettings({}, { DSA_CUDA_GEMM_STAGING_BYTES: '-4' })).toThrow(
      'DSA_CUDA_GEMM_STAGING_BYTES: -4 is not an integer ≥ 1',
    );
    expect(() => cudaSettings({ mlaSplit: 'sometimes' }, {})).toThrow(
      'settings.mlaSplit: "sometimes" is not one of auto, on, off',
    );
    expect(() => cudaSettings({ gemv: 'v4' }, {})).toThrow(
      /settings\.gemv: unknown setting; known: fatbin, /,
    );
  });

  it('no longer pick kernel versions: DSA_CUDA_GEMV and friends are not settings', () => {
    expect(cudaSettings({}, { DSA_CUDA_GEMV: 'v1', DSA_CUDA_TOPK: 'v3' })).toEqual(CUDA_DEFAULT_SETTINGS);
  });
});
