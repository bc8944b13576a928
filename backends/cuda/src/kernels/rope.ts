import { KernelArgumentError, type Kernels } from '@dsa/backend';
import { f64Arg } from '../launch.js';
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

/** rope, both layouts: one thread per (token, head, pair). */
export function ropeKernels(context: KernelContext): Pick<Kernels, 'rope'> {
  return {
    rope(x, positions, invFreq, options) {
      const k = 'rope';
      if (options.layout !== 'interleaved' && options.layout !== 'half') {
        throw new KernelArgumentError(k, `unknown layout "${options.layout}"`);
      }
      expectRank(k, 'x', x, 3);
      expectDenseLast(k, 'x', x);
      expectDType(k, 'positions', positions, 'i32');
      const [n, heads, dim] = x.shape as [number, number, number];
      if (dim % 2 !== 0) throw new KernelArgumentError(k, `rotary width ${dim} is odd`);
      expectShape(k, 'positions', positions, [n]);
      expectShape(k, 'invFreq', invFreq, [dim / 2]);
      const pairs = n * heads * (dim / 2);
      if (pairs === 0) return;
      context.launch(
        'dsa_rope',
        gridFor(context, pairs),
        [ELEMENTWISE_THREADS, 1, 1],
        [
          ...tensorArgs(k, 'x', x),
          ...tensorArgs(k, 'positions', positions),
          ...tensorArgs(k, 'invFreq', invFreq),
          { i32: options.layout === 'interleaved' ? 1 : 0 },
          f64Arg(options.scale ?? 1),
        ],
      );
    },
  };
}
