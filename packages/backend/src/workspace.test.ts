import { describe, expect, it } from 'vitest';
import type { Backend, DeviceBuffer } from './backend.js';
import { Workspace } from './workspace.js';

/** Just enough of a backend for the workspace: host allocations. */
const backend = {
  allocate: (bytes: number, usage: DeviceBuffer['usage']): DeviceBuffer => ({
    byteLength: bytes,
    device: 'host',
    usage,
    dispose: () => {},
  }),
} as unknown as Backend;

describe('Workspace.stepPeak', () => {
  it('is the high-water mark since the last reset, across rewinds and seeks', () => {
    const ws = new Workspace(backend);
    expect(ws.stepPeak).toBe(0);
    const mark = ws.mark();
    ws.tensor('f32', [100]); // 400 bytes at 0
    ws.tensor('f32', [10]); // aligned to 512: ends at 552
    expect(ws.stepPeak).toBe(552);
    ws.rewind(mark);
    ws.tensor('f32', [8]);
    expect(ws.used).toBe(32);
    expect(ws.stepPeak).toBe(552);
    ws.seek(4096);
    expect(ws.stepPeak).toBe(4096);
    ws.reset();
    expect(ws.stepPeak).toBe(0);
    ws.tensor('i32', [4]);
    expect(ws.stepPeak).toBe(16);
    ws.dispose();
  });
});
