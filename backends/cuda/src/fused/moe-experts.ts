import {
  type DeviceBuffer,
  type ExpertWeights,
  type FusedKernels,
  KernelArgumentError,
  type LinearWeight,
} from '@dsa/backend';
import { narrow, tensorView } from '@dsa/tensor';
import { devicePointer } from '../device-pointer.js';
import { dims, dtypeArg, expectDType, expectShape, pointerArg } from './fused-args.js';
import type { FusedKernelHost } from './fused-host.js';

/** Rows per expert tile of the grouped GEMMs (kTileRows). */
const TILE_ROWS = 16;
/** Output columns per CTA (kRowDotWarps). */
const COLUMNS_PER_CTA = 8;
/** Intermediate columns per CTA of the v2 gate/up kernels (4 warp groups × 2 columns). */
const V2_GATE_UP_COLUMNS_PER_CTA = 8;
/** Hidden columns per CTA of the v2 down kernels (8 warps × 4 columns). */
const V2_DOWN_COLUMNS_PER_CTA = 32;
/** The plan kernel's expert limit (kMaxPlanExperts). */
const MAX_EXPERTS = 1024;
/** Tokens per pass: bounds the f32 scratch (tokens · A · (I + H) · 4 bytes). */
const TOKENS_PER_PASS = 256;
const SUFFIX = { f32: 'f32', bf16: 'bf16', f8_e4m3: 'f8' } as const;

/** The device table of one expert list: 6 pointers per expert (ExpertPointers of moe-experts.cu). */
interface ExpertTable {
  /** Keeps the table's memory alive as long as the expert list. */
  readonly buffer: DeviceBuffer;
  readonly pointer: bigint;
  readonly host: BigInt64Array;
  readonly dtype: keyof typeof SUFFIX;
  readonly blockSize: readonly [number, number];
  readonly hidden: number;
  readonly inter: number;
}

const tables = new WeakMap<readonly ExpertWeights[], ExpertTable>();

function checkWeight(name: string, weight: LinearWeight, rows: number, cols: number, dtype: string): void {
  const kernel = 'moeExperts';
  expectShape(kernel, `${name}.weight`, weight.weight, [rows, cols]);
  if (weight.weight.dtype !== dtype) {
    throw new KernelArgumentError(
      kernel,
      `${name}.weight is ${weight.weight.dtype}, expert 0 is ${dtype}: all experts must share one dtype`,
    );
  }
  if (dtype === 'f8_e4m3') {
    if (!weight.scaleInv) throw new KernelArgumentError(kernel, `${name} is f8_e4m3 without scaleInv`);
    const [bn, bk] = weight.blockSize ?? [128, 128];
    expectDType(kernel, `${name}.scaleInv`, weight.scaleInv, ['f32']);
    expectShape(kernel, `${name}.scaleInv`, weight.scaleInv, [Math.ceil(rows / bn), Math.ceil(cols / bk)]);
  }
}

function expertTable(host: FusedKernelHost, experts: readonly ExpertWeights[]): ExpertTable {
  const cached = tables.get(experts);
  if (cached) return cached;
  const kernel = 'moeExperts';
  if (experts.length === 0 || experts.length > MAX_EXPERTS) {
    throw new KernelArgumentError(kernel, `${experts.length} experts: expected 1..${MAX_EXPERTS}`);
  }
  const first = experts[0]!;
  const dtype = first.gate.weight.dtype;
  if (!(dtype in SUFFIX))
    throw new KernelArgumentError(kernel, `expert weights of dtype ${dtype} are not supported`);
  const [inter, hidden] = first.gate.weight.shape as [number, number];
  if (hidden % 4 !== 0 || inter % 4 !== 0) {
    throw new KernelArgumentError(
      kernel,
      `hidden ${hidden} and intermediate ${inter} must be multiples of 4`,
    );
  }
  const blockSize = first.gate.blockSize ?? ([128, 128] as const);
  if (dtype === 'f8_e4m3' && blockSize[1] % 4 !== 0) {
    throw new KernelArgumentError(
      kernel,
      `block size [${blockSize.join(', ')}]: the column block must be a multiple of 4`,
    );
  }
  const table = new BigInt64Array(experts.length * 6);
  experts.forEach((expert, e) => {
    checkWeight(`experts[${e}].gate`, expert.gate, inter, hidden, dtype);
    checkWeight(`experts[${e}].up`, expert.up, inter, hidden, dtype);
    checkWeight(`experts[${e}].down`, expert.down, hidden, inter, dtype);
    for (const w of [expert.gate, expert.up, expert.down]) {
      const bs = w.blockSize ?? [128, 128];
      if (dtype === 'f8_e4m3' && (bs[0] !== blockSize[0] || bs[1] !== blockSize[1])) {
        throw new KernelArgumentError(
          kernel,
          `experts[${e}] has block size [${bs.join(', ')}], expert 0 [${blockSize.join(', ')}]`,
        );
      }
    }
    const parts = [expert.gate, expert.up, expert.down];
    parts.forEach((w, i) => {
      pointerArg(kernel, `experts[${e}] weight`, w.weight); // contiguity check
      const address = devicePointer(w.weight, `experts[${e}] weight`);
      if (address % 16n !== 0n) {
        throw new KernelArgumentError(
          kernel,
          `experts[${e}] weight at 0x${address.toString(16)} is not 16-byte aligned (vector loads)`,
        );
      }
      table[e * 6 + 2 * i] = BigInt.asIntN(64, address);
      table[e * 6 + 2 * i + 1] = w.scaleInv
        ? BigInt.asIntN(64, devicePointer(w.scaleInv, `experts[${e}] scaleInv`))
        : 0n;
    });
  });
  const buffer = host.allocate(table.byteLength, 'weights');
  const view = tensorView(buffer, 'i64', [table.length]);
  host.upload(view, table);
  const pointer = devicePointer(view, 'expert table');
  const entry: ExpertTable = {
    buffer,
    pointer,
    host: table,
    dtype: dtype as keyof typeof SUFFIX,
    blockSize,
    hidden,
    inter,
  };
  tables.set(experts, entry);
  return entry;
}

/**
 * FusedKernels.moeExperts (kernels/fused/moe-experts.cu): out[n] = Σ_a weights[n, a] · expert_{indices[n, a]}(x[n])
 * without a host round trip: device-side plan (tokens per expert), stable order, grouped SwiGLU GEMMs
 * per expert tile and a fixed-order combine. Deterministic: a token's row is bit-identical alone or batched.
 * `x`, `out` [N, H] f32 or bf16; `indices` i32 [N, A] (-1 skips); `weights` f32 [N, A].
 */
export function moeExperts(
  host: FusedKernelHost,
  ...[out, x, indices, weights, experts]: Parameters<FusedKernels['moeExperts']>
): void {
  const name = 'moeExperts';
  const [n, hidden] = dims(name, 'x', x, '[N, H]') as [number, number];
  expectShape(name, 'out', out, [n, hidden]);
  expectDType(name, 'indices', indices, ['i32']);
  expectDType(name, 'weights', weights, ['f32']);
  const a = dims(name, 'indices', indices, '[N, A]')[1]!;
  expectShape(name, 'indices', indices, [n, a]);
  expectShape(name, 'weights', weights, [n, a]);
  const table = expertTable(host, experts);
  if (table.hidden !== hidden)
    throw new KernelArgumentError(name, `x has width ${hidden}, the experts take ${table.hidden}`);
  if (n === 0) return;
  const suffix = SUFFIX[table.dtype];
  const tablePointer = { ptr: table.pointer };
  const e = experts.length;
  const [bn, bk] = table.blockSize;
  for (let t0 = 0; t0 < n; t0 += TOKENS_PER_PASS) {
    const count = Math.min(TOKENS_PER_PASS, n - t0);
    const na = count * a;
    const maxTiles = Math.min(e, na) + Math.floor(na / TILE_ROWS);
    const xs = narrow(x, 0, t0, count);
    const outs = narrow(out, 0, t0, count);
    const idx = pointerArg(name, 'indices', narrow(indices, 0, t0, count));
    const wts = pointerArg(name, 'weights', narrow(weights, 0, t0, count));
    const mark = host.workspace.mark();
    try {
      const ws = host.workspace;
      const offsets = pointerArg(name, 'offsets', ws.tensor('i32', [e + 1]));
      const tiles = pointerArg(name, 'tiles', ws.tensor('i32', [1 + 3 * maxTiles]));
      const order = pointerArg(name, 'order', ws.tensor('i32', [na]));
      const h = pointerArg(name, 'h', ws.tensor('f32', [na, table.inter]));
      const y = pointerArg(name, 'y', ws.tensor('f32', [na, hidden]));
      const l = host.launcher;
      l.launch('dsa_fused_moe_plan', [1, 1, 1], [1024, 1, 1], [idx, { i32: na }, { i32: e }, offsets, tiles]);
      l.launch(
        'dsa_fused_moe_order',
        [Math.ceil((e * 32) / 256), 1, 1],
        [256, 1, 1],
        [idx, { i32: na }, { i32: e }, offsets, order],
      );
      const xArg = pointerArg(name, 'x', xs);
      const gateUpArgs = [
        h,
        xArg,
        dtypeArg(name, 'x', xs, ['f32', 'bf16']),
        order,
        tiles,
        { i32: a },
        tablePointer,
        { i32: bn },
        { i32: bk },
        { i32: hidden },
        { i32: table.inter },
      ];
      const downArgs = [
        y,
        h,
        order,
        tiles,
        tablePointer,
        { i32: bn },
        { i32: bk },
        { i32: hidden },
        { i32: table.inter },
      ];
      const v2 =
        table.dtype !== 'f32' &&
        hidden % 16 === 0 &&
        table.inter % 16 === 0 &&
        (table.dtype !== 'f8_e4m3' || bk % 16 === 0) &&
        'ptr' in xArg &&
        xArg.ptr % 16n === 0n;
      if (v2) {
        // fp8 experts: the v3 loop of gemv-core.cuh (gemv_warp_f8v3); bf16: the v2 loop; same grids and arguments
        const v = table.dtype === 'f8_e4m3' ? '3' : '2';
        // tiles of ≤ 2 rows (_r2) and of 3..16 rows (_r16): two kernels over the same grid
        for (const rows of ['r2', 'r16']) {
          l.launch(
            `dsa_fused_moe_gate_up${v}_${suffix}_${rows}`,
            [Math.ceil(table.inter / V2_GATE_UP_COLUMNS_PER_CTA), maxTiles, 1],
            [256, 1, 1],
            gateUpArgs,
          );
        }
        for (const rows of ['r2', 'r16']) {
          l.launch(
            `dsa_fused_moe_down${v}_${suffix}_${rows}`,
            [Math.ceil(hidden / V2_DOWN_COLUMNS_PER_CTA), maxTiles, 1],
            [256, 1, 1],
            downArgs,
          );
        }
      } else {
        l.launch(
          `dsa_fused_moe_gate_up_${suffix}`,
          [Math.ceil(table.inter / COLUMNS_PER_CTA), maxTiles, 1],
          [256, 1, 1],
          gateUpArgs,
        );
        l.launch(
          `dsa_fused_moe_down_${suffix}`,
          [Math.ceil(hidden / COLUMNS_PER_CTA), maxTiles, 1],
          [256, 1, 1],
          downArgs,
        );
      }
      l.launch(
        'dsa_fused_moe_combine',
        [Math.min(Math.ceil((count * hidden) / 256), 65535), 1, 1],
        [256, 1, 1],
        [
          pointerArg(name, 'out', outs),
          dtypeArg(name, 'out', outs, ['f32', 'bf16']),
          y,
          idx,
          wts,
          { i32: count },
          { i32: a },
          { i32: hidden },
          { i32: e },
        ],
      );
    } finally {
      host.workspace.rewind(mark);
    }
  }
}
