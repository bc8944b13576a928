"""torch.topk baseline for dev/topk.cu: k=2048 over 131072 torch.randn f32 candidates, 1 and 64 rows.

Prints one JSON line per (rows, sorted) with the median time in microseconds (CUDA events, warm-up 10,
100 timed runs). Run on the GPU host: python3 dev/topk_torch.py
"""

import json
import statistics

import torch


def time_us(fn, warmup=10, iters=100):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1000.0)
    return statistics.median(times)


def main():
    torch.manual_seed(1)
    n, k = 131072, 2048
    for rows in (1, 64):
        x = torch.randn(rows, n, device="cuda", dtype=torch.float32)
        for sorted_ in (True, False):
            us = time_us(lambda: torch.topk(x, k, dim=-1, sorted=sorted_))
            print(json.dumps({"bench": "topk", "impl": "torch.topk", "sorted": sorted_, "rows": rows, "n": n,
                              "k": k, "us": round(us, 2), "device": torch.cuda.get_device_name(0),
                              "torch": torch.__version__}))


if __name__ == "__main__":
    main()
