import type { CapturedGraph, Stream } from '@dsa/backend';
import type { CudaDriver } from './cuda-driver.js';
import { out64 } from './cuda-driver.js';

/** CU_STREAM_CAPTURE_MODE_RELAXED: allocations during capture are allowed (they are not recorded). */
const CAPTURE_MODE_RELAXED = 2;

/**
 * Records the kernels `record` enqueues on `stream` with CUDA stream capture and instantiates the
 * graph. `useStream` makes the backend's launches go to `stream` for the duration of `record`.
 * Replay launches the instantiated graph on the given stream (default: the capture stream).
 */
export function captureCudaGraph(
  driver: CudaDriver,
  stream: bigint,
  resolve: (s: Stream | undefined) => bigint,
  useStream: (s: bigint | null) => void,
  record: () => void,
): CapturedGraph {
  driver.call('cuStreamBeginCapture_v2', stream, CAPTURE_MODE_RELAXED);
  useStream(stream);
  const graph = out64();
  try {
    record();
  } catch (error) {
    useStream(null);
    const result = driver.raw('cuStreamEndCapture', stream, graph);
    if (result === 0 && graph[0]) driver.raw('cuGraphDestroy', graph[0]);
    throw error;
  }
  useStream(null);
  driver.call('cuStreamEndCapture', stream, graph);
  const exec = out64();
  try {
    driver.call('cuGraphInstantiateWithFlags', exec, graph[0]!, 0n);
  } finally {
    driver.raw('cuGraphDestroy', graph[0]!);
  }
  let live = true;
  return {
    replay(on?: Stream) {
      if (!live) throw new Error('captured CUDA graph was disposed');
      driver.call('cuGraphLaunch', exec[0]!, on ? resolve(on) : stream);
    },
    dispose() {
      if (!live) return;
      live = false;
      driver.raw('cuGraphExecDestroy', exec[0]!);
    },
  };
}
