#!/usr/bin/env python3
"""Peer for `clattn bench --peers`: PyTorch's torch.nn.functional.scaled_dot_product_attention
on the CPU, float32, B H S D tensors, is_causal as asked.

    torch_sdpa.py --batch B --heads H --seq S --dim D [--causal] --repeats N --threads T

Sets torch.set_num_threads(T) (clattn bench passes the device's compute units and sets
OMP_NUM_THREADS / MKL_NUM_THREADS too), runs under torch.inference_mode, times `repeats`
runs after one warm-up with time.perf_counter, and prints one JSON line: median, min and max
seconds, or {"skipped": why} when PyTorch is missing.
"""
import argparse
import json
import statistics
import sys
import time


def parse():
    p = argparse.ArgumentParser()
    for name in ("batch", "heads", "seq", "dim", "repeats", "threads"):
        p.add_argument("--" + name, type=int, required=True)
    p.add_argument("--causal", action="store_true")
    return p.parse_args()


def main():
    a = parse()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print(json.dumps({"impl": "torch", "skipped": "PyTorch is not installed (pip install "
                          "torch --index-url https://download.pytorch.org/whl/cpu)"}))
        return 0
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(0)
    shape = (a.batch, a.heads, a.seq, a.dim)
    q, k = ((torch.rand(shape, generator=gen) * 6 - 3) for _ in range(2))
    v = torch.rand(shape, generator=gen) * 2 - 1
    with torch.inference_mode():
        F.scaled_dot_product_attention(q, k, v, is_causal=a.causal)  # warm-up
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            F.scaled_dot_product_attention(q, k, v, is_causal=a.causal)
            times.append(time.perf_counter() - t0)
    print(json.dumps({"impl": "torch", "version": torch.__version__,
                      "threads": torch.get_num_threads(),
                      "median_s": statistics.median(times), "min_s": min(times),
                      "max_s": max(times), "runs": len(times)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
