// A deliberate leak, preloaded into a `dsa serve` (node --import) by the soak's own test (tests/soak.test.ts) to
// show that its checks catch one: every half second it keeps 25,000 small objects on the V8 heap (about 1 MB)
// and a touched 1 MB Buffer outside it, for the life of the process.
const kept = [];
setInterval(() => {
  kept.push(Array.from({ length: 25_000 }, (_, i) => ({ i })));
  kept.push(Buffer.alloc(1 << 20, 1));
}, 500).unref();
