import {
  type CompositeHost,
  compositeMoeRoute,
  type FusedKernels,
  type MoeRouteOptions,
  type Scratch,
} from '@dsa/backend';
import { isContiguous, type TensorView } from '@dsa/tensor';
import type { AclRuntime } from './acl-runtime.js';
import { ACL_DTYPES } from './dtype-codes.js';
import type { AscendPrecision, WeightStore } from './weight-store.js';

/** Largest f32 weight slab one exact-precision grouped matmul upcasts into (its run of experts is cut to fit). */
const SLAB_BYTES = 256 * 1024 * 1024;

/** `eps` of aclnnMoeGatingTopK's renormalization (torch_npu's default); negligible next to the sum of k sigmoids. */
const GATING_EPS = 1e-20;

/** Whether aclnnMoeGatingTopK can run these options on `experts` experts (its published constraints). */
export function gatingTopkSupports(experts: number, options: MoeRouteOptions): boolean {
  const perGroup = experts / options.nGroup;
  return (
    experts <= 2048 &&
    Number.isInteger(perGroup) &&
    perGroup > 2 &&
    Math.ceil(perGroup / 32) * 32 * options.nGroup <= 2048 &&
    options.topkGroup >= 1 &&
    options.topkGroup <= options.nGroup &&
    options.topk >= 1 &&
    options.topk <= perGroup * options.topkGroup
  );
}

/** Scratch for the composite router: temporaries freed at the next synchronize, so marks are no-ops. */
function tempScratch(rt: AclRuntime): Scratch {
  return { tensor: (dtype, shape) => rt.temp(dtype, shape), mark: () => 0, rewind: () => {} };
}

/**
 * The MoE fused kernels on the ops-transformer operators (opt-in with `fusedOperators`):
 * `moeRoute` through `aclnnMoeGatingTopK` (normType 1 = sigmoid / 0 = softmax, groupSelectMode 1 =
 * top-2 sum with a bias / 0 = max without, renorm 0) and `moeExperts` through
 * `aclnnMoeInitRoutingV2` (tokens sorted by expert, cumulative counts) + `aclnnGroupedMatmulV4`
 * (gate, up, down; one weight per expert) + `Silu`/`Mul`, then an `IndexSelect` back to (token, slot)
 * order, `Mul` by the routing weights and `ReduceSum` over the slots. Routing indices come out in the
 * operator's order (best first), not ascending: the sum over slots does not depend on it. Options the
 * operator rejects (2 or fewer experts per group, more than 2048 experts) run the contract's
 * composite (`compositeMoeRoute`) on `host`, the backend's own primitive kernels.
 */
export function createAscendMoe(
  rt: AclRuntime,
  host: CompositeHost,
  store: WeightStore,
  precision: AscendPrecision,
  log: (line: string) => void,
): Pick<FusedKernels, 'moeRoute' | 'moeExperts'> {
  const notes = new Set<string>();
  const once = (line: string) => {
    if (notes.has(line)) return;
    notes.add(line);
    log(line);
  };
  const contiguous = (view: TensorView, dtype = view.dtype): TensorView => {
    if (view.dtype === dtype && isContiguous(view)) return view;
    const out = rt.temp(dtype, view.shape);
    if (view.dtype === dtype) rt.run('InplaceCopy', [out, view]);
    else rt.run('Cast', [view, ACL_DTYPES[dtype], out]);
    return out;
  };
  return {
    moeRoute(indices, weights, logits, bias, options) {
      const [n, e] = logits.shape as [number, number];
      const k = options.topk;
      if (!gatingTopkSupports(e, options)) {
        once(
          `ascend: aclnnMoeGatingTopK cannot route ${e} experts in ${options.nGroup} groups (it needs more than 2 experts per group, at most 2048); moeRoute composes primitive kernels for these options`,
        );
        compositeMoeRoute(host, tempScratch(rt), indices, weights, logits, bias, options);
        return;
      }
      const sigmoid = options.scoring === 'sigmoid';
      const x = contiguous(logits, 'f32');
      const ids = isContiguous(indices) ? indices : rt.temp('i32', [n, k]);
      const y = rt.temp('f32', [n, k]);
      const scores = rt.temp('f32', [n, e]);
      // The operator renormalizes sigmoid weights (always) and never softmax ones; the other two
      // combinations read the unbiased scores (outFlag) and rebuild the weights from them.
      const rebuild = sigmoid !== options.normalize;
      rt.run('MoeGatingTopK', [
        x,
        bias ? contiguous(bias, 'f32') : null,
        k,
        options.topkGroup,
        options.nGroup,
        bias ? 1 : 0,
        0,
        sigmoid ? 1 : 0,
        rebuild,
        rebuild ? 1 : options.routedScalingFactor,
        GATING_EPS,
        y,
        ids,
        scores,
      ]);
      if (ids !== indices) rt.run('InplaceCopy', [indices, ids]);
      if (!rebuild) {
        rt.run('InplaceCopy', [weights, y]);
        return;
      }
      once(
        `ascend: moeRoute with ${options.scoring} scores and normalize=${options.normalize} rebuilds the weights from aclnnMoeGatingTopK's scores (gatherColumns, ReduceSum, Div, Muls)`,
      );
      host.kernels.gatherColumns(weights, scores, indices);
      if (options.normalize) {
        const sum = rt.temp('f32', [n]);
        rt.run('ReduceSum', [weights, { intArray: [-1] }, false, ACL_DTYPES.f32, sum]);
        const column: TensorView = { ...sum, shape: [n, 1], strides: [1, 0] };
        rt.run('Div', [weights, column, weights]);
      }
      if (options.routedScalingFactor !== 1)
        rt.run('Muls', [weights, { scalar: options.routedScalingFactor }, weights]);
    },

    moeExperts(out, x, indices, weights, experts) {
      const [n, h] = x.shape as [number, number];
      const a = indices.shape[1]!;
      const count = experts.length;
      const inner = experts[0]!.gate.weight.shape[0]!;
      const dtype = precision === 'bf16' ? 'bf16' : 'f32';
      const size = dtype === 'f32' ? 4 : 2;
      once(
        `ascend: moeExperts runs aclnnMoeInitRoutingV2 + aclnnGroupedMatmulV4 in ${dtype}, reading the per-expert token counts on the host (one sync per MoE layer) to skip idle experts and split the grouped matmuls; outputs are combined by IndexSelect/Mul/ReduceSum (aclnnMoeFinalizeRoutingV2 is not used: its expandedRowIdx layout is unconfirmed)`,
      );
      const total = n * a;
      const tokens = contiguous(x, dtype); // [N, H]
      const expanded = rt.temp(dtype, [total, h]); // tokens sorted by expert
      const rowIdx = rt.temp('i32', [total]); // flat (token, slot) -> row of `expanded`
      const counts = rt.temp('i32', [count]);
      rt.run('MoeInitRoutingV2', [
        tokens,
        contiguous(indices, 'i32'),
        0,
        0,
        count,
        0,
        2,
        false,
        expanded,
        rowIdx,
        counts,
        null,
      ]);
      const hostCounts = new Int32Array(count);
      rt.readNow(counts, new Uint8Array(hostCounts.buffer));
      // Runs of active experts per call: the weight-list form takes at most 128 weights; the f32
      // single-tensor form (the only one GroupedMatmulV4 runs in f32) needs the run's weights upcast
      // into one scratch slab, bounded by SLAB_BYTES.
      const active: { expert: number; rows: number; start: number }[] = [];
      let row = 0;
      hostCounts.forEach((c, expert) => {
        if (c > 0) active.push({ expert, rows: c, start: row });
        row += c;
      });
      const largest = Math.max(inner * h, h * inner) * size;
      const perCall = dtype === 'f32' ? Math.max(1, Math.min(1024, Math.floor(SLAB_BYTES / largest))) : 128;
      const runs: (typeof active)[] = [];
      for (let i = 0; i < active.length; i += perCall) runs.push(active.slice(i, i + perCall));

      const rowsOf = (view: TensorView, start: number, rows: number): TensorView => ({
        ...view,
        shape: [rows, view.shape[1]!],
        byteOffset: view.byteOffset + start * view.strides[0]! * size,
      });
      const grouped = (input: TensorView, pick: 'gate' | 'up' | 'down', result: TensorView): void => {
        for (const run of runs) {
          const start = run[0]!.start;
          const rows = run.reduce((sum, r) => sum + r.rows, 0);
          const groupList = rt.temp('i64', [run.length]);
          rt.upload(groupList, new Uint8Array(BigInt64Array.from(run, (r) => BigInt(r.rows)).buffer));
          const [outDim, inDim] = experts[run[0]!.expert]![pick].weight.shape as [number, number];
          let weight: TensorView[];
          if (dtype === 'bf16') {
            // one stored bf16 [out, in] weight per expert (f32/f16 ones cast into a slab slot),
            // passed as its [in, out] transposed view
            const slab = rt.scratch('expert-weights', 'bf16', [run.length, outDim, inDim]);
            weight = run.map((r, g) => {
              let w = store.stored('moeExperts', experts[r.expert]![pick]);
              if (w.dtype !== 'bf16') {
                const slot: TensorView = {
                  ...slab,
                  shape: [outDim, inDim],
                  strides: [inDim, 1],
                  byteOffset: slab.byteOffset + g * outDim * inDim * 2,
                };
                w = store.as('moeExperts', experts[r.expert]![pick], 'bf16', slot);
              }
              return { ...w, shape: [inDim, outDim], strides: [w.strides[1]!, w.strides[0]!] };
            });
          } else {
            // f32 upcasts of the run's weights in one slab [G, out, in], passed as [G, in, out]
            const slab = rt.scratch('expert-weights', 'f32', [run.length, outDim, inDim]);
            run.forEach((r, g) => {
              const slot: TensorView = {
                ...slab,
                shape: [outDim, inDim],
                strides: [inDim, 1],
                byteOffset: slab.byteOffset + g * outDim * inDim * 4,
              };
              store.as('moeExperts', experts[r.expert]![pick], 'f32', slot);
            });
            weight = [{ ...slab, shape: [run.length, inDim, outDim], strides: [outDim * inDim, 1, inDim] }];
          }
          rt.run('GroupedMatmulV4', [
            { tensorList: [rowsOf(input, start, rows)] },
            { tensorList: weight },
            null,
            null,
            null,
            null,
            null,
            null,
            groupList,
            null,
            null,
            null,
            3,
            0,
            1,
            0,
            { tensorList: [rowsOf(result, start, rows)] },
            null,
            null,
          ]);
        }
      };
      const gate = rt.temp(dtype, [total, inner]);
      grouped(expanded, 'gate', gate);
      const up = rt.temp(dtype, [total, inner]);
      grouped(expanded, 'up', up);
      const act = rt.temp(dtype, [total, inner]);
      rt.run('Silu', [gate, act]);
      rt.run('Mul', [act, up, act]);
      const down = rt.temp(dtype, [total, h]); // expert-sorted rows
      grouped(act, 'down', down);
      const picked = rt.temp('f32', [total, h]); // back in (token, slot) order
      if (dtype === 'f32') rt.run('IndexSelect', [down, 0, rowIdx, picked]);
      else {
        const pickedLow = rt.temp(dtype, [total, h]);
        rt.run('IndexSelect', [down, 0, rowIdx, pickedLow]);
        rt.run('Cast', [pickedLow, ACL_DTYPES.f32, picked]);
      }
      const perSlot: TensorView = { ...picked, shape: [n, a, h], strides: [a * h, h, 1] };
      const scale: TensorView = {
        ...weights,
        shape: [n, a, 1],
        strides: [weights.strides[0]!, weights.strides[1]!, 0],
      };
      rt.run('Mul', [perSlot, scale, perSlot]);
      // Σ over the slots: the last dim of the [N, H, A] view of the products.
      const slotsLast: TensorView = { ...picked, shape: [n, h, a], strides: [a * h, 1, h] };
      const sum = out.dtype === 'f32' && isContiguous(out) ? out : rt.temp('f32', [n, h]);
      rt.run('ReduceSum', [slotsLast, { intArray: [-1] }, false, ACL_DTYPES.f32, sum]);
      if (sum !== out) rt.run('InplaceCopy', [out, contiguous(sum, out.dtype)]);
    },
  };
}
