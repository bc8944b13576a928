// The CANN emulator refuses misuse loudly: each case breaks one rule of the C API on purpose and
// checks the non-zero status and the aclGetRecentErrMsg text.
import { tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { buildEmulator } from '../emulator/build-emulator.js';
import { AclRuntime } from './acl-runtime.js';
import { findAscendLibraries } from './library-paths.js';

const dir = buildEmulator();
const lookup = findAscendLibraries({ DSA_ASCEND_LIB_DIR: dir });
if (!lookup.found) throw new Error(lookup.reason);
const rt = new AclRuntime(lookup);
const { runtime, descriptors, operators } = rt.api;
const stream = rt.compute.handle;
const recent = () => String(runtime.aclGetRecentErrMsg());

function malloc(bytes: number): number {
  const out = [0];
  expect(runtime.aclrtMalloc(out, bytes, 0)).toBe(0);
  return Number(out[0]);
}

/** A contiguous f32 [n] descriptor over `address` (an allocation of `storage` floats). */
function vector(address: number, n: number, storage = n): unknown {
  return descriptors.aclCreateTensor([n], 1, 0, [1], 0, 2, [storage], 1, address);
}

function plan(
  op: 'Relu' | 'Exp' | 'Matmul' | 'Softmax' | 'GroupedMatmulV4' | 'MoeGatingTopK',
  ...args: unknown[]
): { size: number; executor: unknown; status: number } {
  const size = [0];
  const executor: unknown[] = [null];
  const status = operators[op]!.getWorkspaceSize(...args, size, executor) as number;
  return { size: Number(size[0]), executor: executor[0], status };
}

describe('CANN emulator argument checks', () => {
  it('refuses a launch whose workspace size differs from GetWorkspaceSize', () => {
    const x = vector(malloc(64 * 4), 64);
    const { size, executor, status } = plan('Softmax', x, -1n, x);
    expect(status).toBe(0);
    expect(size).toBe(256);
    const ws = malloc(size);
    expect(operators.Softmax!.launch(ws, size - 4, executor, stream)).not.toBe(0);
    expect(recent()).toMatch(/workspaceSize 252 differs from the 256 bytes/);
    expect(operators.Softmax!.launch(ws, size, executor, stream)).toBe(0);
    expect(runtime.aclrtSynchronizeStream(stream)).toBe(0);
  });

  it('refuses a null tensor', () => {
    const x = vector(malloc(16), 4);
    expect(plan('Relu', null, x).status).not.toBe(0);
    expect(recent()).toMatch(/aclnnRelu: tensor self is null/);
  });

  it('refuses a view that runs past its storage or its allocation', () => {
    expect(descriptors.aclCreateTensor([4, 4], 2, 0, [8, 1], 0, 2, [16], 1, malloc(64))).toBeNull();
    expect(recent()).toMatch(/view out of bounds/);
    const small = vector(malloc(16), 8); // storage claims 8 floats, the allocation holds 4
    const out = vector(malloc(32), 8);
    expect(plan('Relu', small, out).status).not.toBe(0);
    expect(recent()).toMatch(/run \d+ bytes past the end/);
  });

  it('refuses a double free and a free of an unknown pointer', () => {
    const p = malloc(32);
    expect(runtime.aclrtFree(p)).toBe(0);
    expect(runtime.aclrtFree(p)).not.toBe(0);
    expect(recent()).toMatch(/double free/);
    expect(runtime.aclrtFree(p + 8)).not.toBe(0);
  });

  it('refuses a second launch of an executor and an executor of another operator', () => {
    const x = vector(malloc(16), 4);
    const relu = plan('Relu', x, x);
    expect(operators.Exp!.launch(0, 0, relu.executor, stream)).not.toBe(0);
    expect(recent()).toMatch(/aclnnExp: executor was created by aclnnRelu/);
    expect(operators.Relu!.launch(0, 0, relu.executor, stream)).toBe(0);
    expect(operators.Relu!.launch(0, 0, relu.executor, stream)).not.toBe(0);
    expect(recent()).toMatch(/single-use/);
    expect(runtime.aclrtSynchronizeStream(stream)).toBe(0);
  });

  it('runs queued work only at synchronize: reading early gives stale data', () => {
    const view = rt.temp('f32', [4]);
    const bytes = new Uint8Array(Float32Array.from([-1, 2, -3, 4]).buffer);
    rt.upload(view, bytes);
    const early = new Float32Array(4);
    runtime.memcpyToHost(early, 16, (view.buffer as unknown as { address: number }).address, 16, 2);
    expect(Array.from(early)).not.toEqual([-1, 2, -3, 4]);
    rt.synchronize();
    const x = rt.temp('f32', [4]);
    rt.upload(x, bytes);
    rt.run('Relu', [x, x]);
    const late = new Uint8Array(16);
    rt.readNow(x, late);
    expect(Array.from(new Float32Array(late.buffer))).toEqual([0, 2, 0, 4]);
  });

  it('fails at synchronize when queued work reads memory freed after the launch', () => {
    const p = malloc(16);
    const x = vector(p, 4);
    const relu = plan('Relu', x, x);
    expect(operators.Relu!.launch(0, 0, relu.executor, stream)).toBe(0);
    expect(runtime.aclrtFree(p)).toBe(0);
    expect(runtime.aclrtSynchronizeStream(stream)).not.toBe(0);
    expect(recent()).toMatch(/aclnnRelu executed at synchronize with argument 0 in dead memory/);
  });

  it('refuses copies beyond an allocation and async copies from unpinned host memory', () => {
    const p = malloc(16);
    const host = new Uint8Array(64);
    expect(runtime.memcpyToHost(host, 64, p, 64, 2)).not.toBe(0);
    expect(recent()).toMatch(/past the end of its 16-byte allocation/);
    expect(runtime.aclrtMemcpyAsync(p, 16, 4096, 16, 1, stream)).not.toBe(0);
    expect(recent()).toMatch(/not inside any aclrtMallocHost allocation/);
  });

  it('refuses mixed dtypes in matmul and names the shapes on a mismatch', () => {
    const a = descriptors.aclCreateTensor([2, 3], 2, 0, [3, 1], 0, 2, [6], 1, malloc(24));
    const b16 = descriptors.aclCreateTensor([3, 2], 2, 27, [2, 1], 0, 2, [6], 1, malloc(12));
    const b = descriptors.aclCreateTensor([4, 2], 2, 0, [2, 1], 0, 2, [8], 1, malloc(32));
    const out = descriptors.aclCreateTensor([2, 2], 2, 0, [2, 1], 0, 2, [4], 1, malloc(16));
    expect(plan('Matmul', a, b16, out, 0).status).not.toBe(0);
    expect(recent()).toMatch(/self FLOAT, mat2 BF16 and out FLOAT must share/);
    expect(plan('Matmul', a, b, out, 0).status).not.toBe(0);
    expect(recent()).toMatch(/self \[2, 3\] x mat2 \[4, 2\] -> out \[2, 2\] do not match/);
  });

  it('serves the backend through the same checks (a tensor view in freed memory is refused)', () => {
    const view = tensorView(rt.allocate(16, 'activations'), 'f32', [4]);
    (view.buffer as unknown as { dispose(): void }).dispose();
    rt.synchronize();
    expect(() => rt.run('Relu', [view, view])).toThrow(/not backed by live ascend memory/);
  });

  it('tensor lists own their members: a member destroyed on its own breaks aclDestroyTensorList', () => {
    const member = vector(malloc(16), 4);
    const list = descriptors.aclCreateTensorList([member], 1);
    expect(list).not.toBeNull();
    expect(descriptors.aclDestroyTensor(member)).toBe(0);
    expect(descriptors.aclDestroyTensorList(list)).not.toBe(0);
    expect(recent()).toMatch(/member 0 was already destroyed/);
  });

  it('refuses FLOAT grouped matmul with a weight list (FLOAT needs the single-tensor form)', () => {
    const f32 = (rows: number, cols: number) =>
      descriptors.aclCreateTensor(
        [rows, cols],
        2,
        0,
        [cols, 1],
        0,
        2,
        [rows * cols],
        1,
        malloc(rows * cols * 4),
      );
    const groups = descriptors.aclCreateTensor([2], 1, 9, [1], 0, 2, [2], 1, malloc(16));
    const x = descriptors.aclCreateTensorList([f32(4, 3)], 1);
    const weight = descriptors.aclCreateTensorList([f32(3, 5), f32(3, 5)], 2);
    const out = descriptors.aclCreateTensorList([f32(4, 5)], 1);
    const nulls = [null, null, null, null, null, null];
    const args = [x, weight, ...nulls, groups, null, null, null, 3n, 0n, 1n, 0n, out, null, null];
    expect(plan('GroupedMatmulV4', ...args).status).not.toBe(0);
    expect(recent()).toMatch(/FLOAT runs only with x, weight and out each one tensor/);
  });

  it('refuses MoeGatingTopK groups of 2 experts and an INT64 expertIdxOut', () => {
    const m = (rows: number, cols: number, dtype: number, bytes: number) =>
      descriptors.aclCreateTensor(
        [rows, cols],
        2,
        dtype,
        [cols, 1],
        0,
        2,
        [rows * cols],
        1,
        malloc(rows * cols * bytes),
      );
    const x = m(3, 8, 0, 4);
    const y = m(3, 2, 0, 4);
    const norm = m(3, 8, 0, 4);
    expect(
      plan('MoeGatingTopK', x, null, 2n, 2n, 4n, 0n, 0n, 1n, false, 1, 1e-20, y, m(3, 2, 3, 4), norm).status,
    ).not.toBe(0);
    expect(recent()).toMatch(/groupCount 4 must divide 8 experts into groups of more than 2/);
    expect(
      plan('MoeGatingTopK', x, null, 2n, 1n, 2n, 0n, 0n, 1n, false, 1, 1e-20, y, m(3, 2, 9, 8), norm).status,
    ).not.toBe(0);
    expect(recent()).toMatch(/expertIdxOut must be INT32/);
  });
});
