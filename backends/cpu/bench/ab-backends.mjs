// The two addons an A/B bench compares in one process: `new` (this checkout's) and `old` (OLD=dir, another
// checkout or a folder with its package.json and prebuilds/), each as a synchronous CpuBackend in the precision
// PREC names (the backend's default without it).
import { CpuBackend } from '../dist/cpu-backend.js';
import { loadNative } from '../dist/native.js';

export function abBackends() {
  const dirs = {
    new: new URL('..', import.meta.url).pathname,
    old: process.env.OLD ?? '/work/main/backends/cpu',
  };
  const settings = { execution: 'synchronous', ...(process.env.PREC ? { precision: process.env.PREC } : {}) };
  return Object.fromEntries(
    Object.entries(dirs).map(([k, d]) => [k, new CpuBackend(loadNative(d).addon, { settings })]),
  );
}
