import { KernelArgumentError, type Kernels } from '@dsa/backend';
import { tensorArgs } from '../tensor-args.js';
import {
  ELEMENTWISE_THREADS,
  expectDenseLast,
  expectDType,
  expectRank,
  expectShape,
  gridFor,
  type KernelContext,
} from './kernel-context.js';

/** quantizeFp8 (one warp per row block) and dequantizeFp8 (one thread per element). */
export function fp8QuantKernels(context: KernelContext): Pick<Kernels, 'quantizeFp8' | 'dequantizeFp8'> {
  return {
    quantizeFp8(q, scale, x, options) {
      const k = 'quantizeFp8';
      expectRank(k, 'x', x, 2);
      expectDenseLast(k, 'x', x);
      expectDType(k, 'q', q, 'f8_e4m3');
      const { blockSize } = options;
      if (!Number.isInteger(blockSize) || blockSize < 1) {
        throw new KernelArgumentError(k, `blockSize ${blockSize} must be a positive integer`);
      }
      if (options.scaleFormat !== 'ue8m0' && options.scaleFormat !== 'f32') {
        throw new KernelArgumentError(k, `unknown scaleFormat "${options.scaleFormat}"`);
      }
      const [rows, d] = x.shape as [number, number];
      const blocks = Math.ceil(d / blockSize);
      expectShape(k, 'q', q, [rows, d]);
      expectDenseLast(k, 'q', q);
      expectShape(k, 'scale', scale, [rows, blocks]);
      if (rows === 0 || blocks === 0) return;
      if (rows > 65535)
        throw new KernelArgumentError(k, `${rows} rows exceed the 65535 grid rows of one launch`);
      context.launch(
        'dsa_quantize_fp8',
        [blocks, rows, 1],
        [32, 1, 1],
        [
          ...tensorArgs(k, 'q', q),
          ...tensorArgs(k, 'scale', scale),
          ...tensorArgs(k, 'x', x),
          { i32: blockSize },
          { i32: options.scaleFormat === 'ue8m0' ? 1 : 0 },
        ],
      );
    },
    dequantizeFp8(out, q, scale, options) {
      const k = 'dequantizeFp8';
      expectRank(k, 'q', q, 2);
      expectDenseLast(k, 'q', q);
      const { blockSize } = options;
      if (!Number.isInteger(blockSize) || blockSize < 1) {
        throw new KernelArgumentError(k, `blockSize ${blockSize} must be a positive integer`);
      }
      const [rows, d] = q.shape as [number, number];
      expectShape(k, 'out', out, [rows, d]);
      expectDenseLast(k, 'out', out);
      expectShape(k, 'scale', scale, [rows, Math.ceil(d / blockSize)]);
      if (rows * d === 0) return;
      context.launch(
        'dsa_dequantize_fp8',
        gridFor(context, rows * d),
        [ELEMENTWISE_THREADS, 1, 1],
        [
          ...tensorArgs(k, 'out', out),
          ...tensorArgs(k, 'q', q),
          ...tensorArgs(k, 'scale', scale),
          { i32: blockSize },
        ],
      );
    },
  };
}
