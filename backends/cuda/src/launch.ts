/** One kernel argument: a device pointer, a 32-bit int / uint / float, or a 64-bit int. */
export type LaunchArg =
  | {
      /** A device address (C pointer, 8 bytes). */
      ptr: bigint;
    }
  | {
      /** A C `int` (4 bytes). */
      i32: number;
    }
  | {
      /** A C `unsigned` (4 bytes). */
      u32: number;
    }
  | {
      /** A C `float` (4 bytes). */
      f32: number;
    }
  | {
      /** A C `int64_t` (8 bytes; also carries a `double`'s bits, see {@link f64Arg}). */
      i64: bigint;
    };

/** Grid or block dimensions `[x, y, z]`. */
export type Dim3 = readonly [number, number, number];

/** Launches kernels of the backend's fatbin on its current stream. */
export interface KernelLauncher {
  /**
   * Launches `extern "C" __global__` kernel `kernel` (looked up once and cached) with `args` packed
   * with natural alignment; throws naming the kernel on failure (an unknown name lists the known ones).
   */
  launch(kernel: string, grid: Dim3, block: Dim3, args: readonly LaunchArg[], sharedBytes?: number): void;
}

/** Size and alignment in bytes of one argument (a C `T*`, `int`, `unsigned`, `float`, `int64_t` or `double`). */
export function launchArgSize(arg: LaunchArg): 4 | 8 {
  return 'ptr' in arg || 'i64' in arg ? 8 : 4;
}

/**
 * Packs `args` into `target` as the kernel's parameter buffer (CU_LAUNCH_PARAM_BUFFER_POINTER): each
 * argument at the next offset aligned to its own size, little-endian, exactly like the C ABI lays out
 * the kernel's parameter list. Returns the total size in bytes. Throws naming `kernel` and the argument
 * index for a value out of range (a non-integer i32, a u32 above 2^32 - 1, an i64 outside int64).
 */
export function packLaunchArgs(kernel: string, args: readonly LaunchArg[], target: DataView): number {
  let offset = 0;
  args.forEach((arg, index) => {
    const size = launchArgSize(arg);
    offset = Math.ceil(offset / size) * size;
    if (offset + size > target.byteLength) {
      throw new RangeError(`${kernel}: arguments exceed the ${target.byteLength}-byte parameter buffer`);
    }
    const bad = (what: string) =>
      new RangeError(
        `${kernel}: argument ${index} (${JSON.stringify(arg, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}) ${what}`,
      );
    if ('ptr' in arg) {
      if (typeof arg.ptr !== 'bigint' || arg.ptr < 0n || arg.ptr >= 1n << 64n)
        throw bad('is not a 64-bit address');
      target.setBigUint64(offset, arg.ptr, true);
    } else if ('i64' in arg) {
      if (typeof arg.i64 !== 'bigint' || arg.i64 < -(1n << 63n) || arg.i64 >= 1n << 63n)
        throw bad('is not an int64');
      target.setBigInt64(offset, arg.i64, true);
    } else if ('i32' in arg) {
      if (!Number.isInteger(arg.i32) || arg.i32 < -(2 ** 31) || arg.i32 >= 2 ** 31)
        throw bad('is not an int32');
      target.setInt32(offset, arg.i32, true);
    } else if ('u32' in arg) {
      if (!Number.isInteger(arg.u32) || arg.u32 < 0 || arg.u32 >= 2 ** 32) throw bad('is not a uint32');
      target.setUint32(offset, arg.u32, true);
    } else if ('f32' in arg) {
      if (typeof arg.f32 !== 'number') throw bad('is not a number');
      target.setFloat32(offset, arg.f32, true);
    } else {
      throw bad('has no ptr, i32, u32, f32 or i64 field');
    }
    offset += size;
  });
  return offset;
}

/** A `double` kernel argument (8 bytes, as its bit pattern in an `i64` slot). */
export function f64Arg(value: number): LaunchArg {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value, true);
  return { i64: view.getBigInt64(0, true) };
}

/** Checks grid/block dimensions: positive integers within the CUDA limits; throws naming `kernel`. */
export function checkDims(kernel: string, grid: Dim3, block: Dim3): void {
  const limits = { grid: [2 ** 31 - 1, 65535, 65535], block: [1024, 1024, 64] } as const;
  for (const [what, dims] of [
    ['grid', grid],
    ['block', block],
  ] as const) {
    dims.forEach((d, i) => {
      if (!Number.isInteger(d) || d < 1 || d > limits[what][i]!) {
        throw new RangeError(
          `${kernel}: ${what} dimension ${'xyz'[i]} = ${d} is outside 1..${limits[what][i]}`,
        );
      }
    });
  }
  if (block[0] * block[1] * block[2] > 1024) {
    throw new RangeError(`${kernel}: block of ${block.join('x')} has more than 1024 threads`);
  }
}
