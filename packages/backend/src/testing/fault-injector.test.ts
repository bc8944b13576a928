import { ReferenceBackend } from '@dsa/backend-reference';
import { tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { FaultInjector } from './fault-injector.js';
import { InjectedFaultError } from './injected-fault-error.js';

describe('FaultInjector', () => {
  it('fails the Nth kernel call, then lets calls through again', () => {
    const faults = new FaultInjector(new ReferenceBackend());
    const backend = faults.backend;
    const a = tensorView(backend.allocate(16, 'activations'), 'f32', [4]);
    backend.upload(a, Float32Array.of(1, 2, 3, 4));
    faults.failNext('kernel', { after: 1 });
    backend.kernels.unary(a, a, 'relu');
    const error = (() => {
      try {
        backend.kernels.unary(a, a, 'relu');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InjectedFaultError);
    expect(error).toMatchObject({ code: 'injected_fault', site: 'kernel', operation: 'unary', call: 2 });
    backend.kernels.unary(a, a, 'relu');
    expect(faults.calls.kernel).toBe(3);
    expect(faults.raised.kernel).toBe(1);
  });

  it('fails consecutive allocations and rejects downloads, passing data through otherwise', async () => {
    const faults = new FaultInjector(new ReferenceBackend());
    const backend = faults.backend;
    faults.failNext('allocation', { after: 0, count: 2 });
    expect(() => backend.allocate(8, 'activations')).toThrow('injected allocation fault: allocate (call 1)');
    expect(() => backend.allocate(8, 'activations')).toThrow(InjectedFaultError);
    const view = tensorView(backend.allocate(8, 'activations'), 'f32', [2]);
    backend.upload(view, Float32Array.of(5, -6));
    faults.failNext('download', { after: 0 });
    const out = new Float32Array(2);
    await expect(backend.download(view, out)).rejects.toThrow('injected download fault');
    await backend.download(view, out);
    expect([...out]).toEqual([5, -6]);
    expect(backend.name).toBe('reference');
    expect(faults.raised).toEqual({ kernel: 0, allocation: 2, download: 1 });
  });

  it('refuses a plan it cannot follow', () => {
    const faults = new FaultInjector(new ReferenceBackend());
    expect(() => faults.failNext('kernel', { after: -1 })).toThrow(RangeError);
    expect(() => faults.failNext('kernel', { after: 0, count: 0 })).toThrow('count must be at least 1');
  });
});
