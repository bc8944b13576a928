export { withAtomicFile, writeFileAtomic } from './atomic-file.js';
export { CHECKPOINT_INDEX_FILE, CHECKPOINT_SINGLE_FILE, Checkpoint } from './checkpoint.js';
export { CheckpointError, type CheckpointErrorDetails } from './checkpoint-error.js';
export { CheckpointFile } from './checkpoint-file.js';
export { MAX_HEADER_BYTES, SafetensorsFile, type TensorInfo } from './safetensors-file.js';
export { type SafetensorsTensorData, writeSafetensors } from './safetensors-writer.js';
export type { SourceTensorInfo, TensorSource } from './tensor-source.js';
