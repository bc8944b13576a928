import { BackendUnavailableError } from '@dsa/backend';
import { describe, expect, it } from 'vitest';
import { cudaSettings } from './cuda-settings.js';
import cudaBackendFactory from './index.js';
import { readKernelBinary } from './kernel-binary.js';
import { probeCuda } from './probe.js';

describe('probe without a GPU', () => {
  it.skipIf(process.env.DSA_TEST_DEVICE === 'cuda')(
    'scores 0 and names libcuda.so.1 on a machine without a driver',
    async () => {
      const probe = await cudaBackendFactory.probe();
      expect(probe.score).toBe(0);
      expect(probe.reason).toMatch(/libcuda\.so\.1/);
    },
  );

  it.skipIf(process.env.DSA_TEST_DEVICE === 'cuda')(
    'create() rejects with BackendUnavailableError carrying the reason',
    async () => {
      await expect(cudaBackendFactory.create()).rejects.toThrow(BackendUnavailableError);
      await expect(cudaBackendFactory.create()).rejects.toThrow(/libcuda\.so\.1/);
    },
  );

  it('turns a loader failure into a reason, never an exception', () => {
    const result = probeCuda(true, () => {
      throw new Error('libcuda.so.1 not found (test): no NVIDIA driver on this machine');
    });
    expect(result).toEqual({
      ok: false,
      reason: 'libcuda.so.1 not found (test): no NVIDIA driver on this machine',
    });
    probeCuda(true); // restore the cached real probe
  });

  it('a missing fatbin is reported with how to build it', () => {
    const { fatbin } = cudaSettings({}, { DSA_CUDA_FATBIN: '/nonexistent/dsa-kernels.fatbin' });
    const binary = readKernelBinary(fatbin);
    expect('error' in binary && binary.error).toMatch(
      /CUDA kernels not built: \/nonexistent\/dsa-kernels.fatbin is missing; build it with `pnpm --filter @dsa\/backend-cuda build`/,
    );
  });
});
