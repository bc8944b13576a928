export { bf16ToFloat, decodeBf16, encodeBf16, floatToBf16 } from './bf16.js';
export {
  DTYPES,
  type DType,
  dtypeBytes,
  dtypeFromSafetensors,
  dtypeToSafetensors,
  isFloatDType,
} from './dtype.js';
export { f16ToFloat, floatToF16 } from './f16.js';
export {
  encodeFp8E4m3,
  FP8_E4M3_MAX,
  FP8_E4M3_TABLE,
  floatToFp8E4m3,
  fp8E4m3ToFloat,
} from './fp8.js';
export {
  DEQUANTIZABLE_GGML_TYPES,
  dequantizeGgml,
  ggmlDequantizeRefusal,
  quantizeQ8_0,
} from './ggml-dequantize.js';
export { type GgmlTypeInfo, ggmlRowBytes, ggmlTypeByName, ggmlTypeInfo, QK_K } from './ggml-type.js';
export { Random } from './random.js';
export { contiguousStrides, formatShape, numel, type Shape, sameShape } from './shape.js';
export {
  type BufferHandle,
  broadcastShapes,
  broadcastTo,
  checkBounds,
  isContiguous,
  narrow,
  permute,
  reshape,
  select,
  splitDim,
  type TensorView,
  tensorView,
  unsqueeze,
  viewByteLength,
} from './view.js';
