// Preloaded into the `dsa serve` that the soak starts itself (node --expose-gc --import), so the soak can read
// the live JavaScript heap exactly instead of estimating it: every DSA_SOAK_LIVE_HEAP_MS (default 1000) ms it
// runs a full collection and prints `dsa-soak live-heap <bytes>` (the heap in use right after it)
// to stderr, where startServeProcess reads it. Without --expose-gc it prints one line saying so and nothing else.
const every = Number(process.env.DSA_SOAK_LIVE_HEAP_MS ?? 1000);
if (typeof globalThis.gc !== 'function') {
  process.stderr.write('dsa-soak live-heap unavailable: node was started without --expose-gc\n');
} else {
  setInterval(() => {
    globalThis.gc();
    process.stderr.write(`dsa-soak live-heap ${process.memoryUsage().heapUsed}\n`);
  }, every).unref();
}
