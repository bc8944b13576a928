#!/usr/bin/env python3
"""PyTorch's bf16 `linear` (oneDNN's brgemm on CPUs with AVX-512 BF16) at given shapes, weights from memory.

The Python side of tools/peers/linear-onednn.mjs. Usage: torch-linear.py THREADS MxNxK[,MxNxK...]; one JSON line
per shape on stdout: {"m","n","k","ms","gflops","kernel"} (ms the best of 5 passes over enough copies of the
weight to pass 96 MB, beyond a 32 MiB last-level cache; kernel is the primitive oneDNN reported, or "aten").
"""
import json
import os
import sys
import time

import torch


def kernel_names(shapes):
    """The implementation oneDNN's verbose log names for each (m, n, k) (one call each, all in one child), else 'aten'."""
    import subprocess

    calls = '; '.join(
        f'torch.nn.functional.linear(torch.zeros({m}, {k}, dtype=torch.bfloat16), '
        f'torch.zeros({n}, {k}, dtype=torch.bfloat16)); print("dsa-shape-done", flush=True)'
        for m, n, k in shapes
    )
    env = {**os.environ, 'DNNL_VERBOSE': '1', 'ONEDNN_VERBOSE': '1'}
    out = subprocess.run([sys.executable, '-c', f'import torch; torch.set_num_threads(1); {calls}'], env=env,
                         capture_output=True, text=True).stdout
    # The matmul (or inner product) lines between one shape's marker and the next are that shape's.
    names, current = [], 'aten'
    for line in out.splitlines():
        fields = line.split(',')
        if line == 'dsa-shape-done':
            names.append(current)
            current = 'aten'
        elif len(fields) > 5 and fields[1] == 'exec' and fields[3] in ('matmul', 'inner_product'):
            current = f'{fields[3]} {fields[4]}'
    return names + ['aten'] * (len(shapes) - len(names))


def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    shapes = [tuple(int(v) for v in shape.split('x')) for shape in sys.argv[2].split(',')]
    kernels = kernel_names(shapes)
    for (m, n, k), kernel in zip(shapes, kernels):
        copies = max(1, -(-96_000_000 // (n * k * 2)))
        weights = [torch.randn(n, k).to(torch.bfloat16) for _ in range(copies)]  # [N, K] each
        x = torch.randn(m, k).to(torch.bfloat16)  # [M, K]
        for w in weights[:2]:
            torch.nn.functional.linear(x, w)
        best = float('inf')
        for _ in range(5):
            started = time.perf_counter()
            for w in weights:
                torch.nn.functional.linear(x, w)
            best = min(best, (time.perf_counter() - started) / copies)
        print(json.dumps({'m': m, 'n': n, 'k': k, 'ms': best * 1e3, 'gflops': 2 * m * n * k / best / 1e9,
                          'kernel': kernel}), flush=True)


if __name__ == '__main__':
    main()
