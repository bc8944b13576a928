// Finds a Python interpreter with PyTorch for the tests that run the trainer (tools/train).
import { spawnSync } from 'node:child_process';

/** The first of $DSA_PYTHON, /usr/bin/python3, python3 that imports torch, or null. */
export function pythonWithTorch(): string | null {
  const candidates = [process.env.DSA_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string =>
    Boolean(c),
  );
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
    if (r.status === 0) return python;
  }
  return null;
}
