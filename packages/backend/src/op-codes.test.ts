import { describe, expect, it } from 'vitest';
import { KernelArgumentError } from './errors/kernel-argument-error.js';
import type { UnaryOp } from './kernels.js';
import { binaryOpCode, unaryOpCode } from './op-codes.js';

describe('op codes', () => {
  it('number the ops as the native kernels do', () => {
    expect(
      ['silu', 'relu', 'exp', 'sigmoid', 'neg', 'sqrt', 'reciprocal'].map((op) => unaryOpCode(op as UnaryOp)),
    ).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(binaryOpCode('add')).toBe(0);
    expect(binaryOpCode('min')).toBe(5);
  });

  it('name an unknown op', () => {
    expect(() => unaryOpCode('tanh' as UnaryOp)).toThrow(
      new KernelArgumentError('unary', 'unknown op "tanh"'),
    );
  });
});
