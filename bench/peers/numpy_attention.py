#!/usr/bin/env python3
"""Peer for `clattn bench --peers`: softmax(Q K^T / sqrt(D)) V in NumPy float32.

    numpy_attention.py --batch B --heads H --seq S --dim D [--causal] --repeats N --threads T

Computes one (batch, head) at a time, so memory stays S x S floats (the way one writes it
without a fused kernel), times `repeats` runs after one warm-up with time.perf_counter, and
prints one JSON line: median, min and max seconds, or {"skipped": why} when NumPy is missing.
Threads: whatever BLAS NumPy links takes from OMP_NUM_THREADS / OPENBLAS_NUM_THREADS /
MKL_NUM_THREADS, which `clattn bench` sets to T, the device's compute units (T is only
reported here).
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


def attention(np, q, k, v, causal):
    out = np.empty_like(q)
    seq = q.shape[2]
    scale = np.float32(1.0 / np.sqrt(q.shape[3]))
    mask = np.triu(np.ones((seq, seq), dtype=bool), 1) if causal else None
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            s = (q[b, h] @ k[b, h].T) * scale
            if mask is not None:
                s[mask] = -np.inf
            s -= s.max(axis=1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(axis=1, keepdims=True)
            out[b, h] = s @ v[b, h]
    return out


def main():
    a = parse()
    try:
        import numpy as np
    except ImportError:
        print(json.dumps({"impl": "numpy", "skipped": "numpy is not installed "
                          "(Debian: apt install python3-numpy; or pip install numpy)"}))
        return 0
    rng = np.random.default_rng(0)
    shape = (a.batch, a.heads, a.seq, a.dim)
    q, k = (rng.uniform(-3, 3, shape).astype(np.float32) for _ in range(2))
    v = rng.uniform(-1, 1, shape).astype(np.float32)
    attention(np, q, k, v, a.causal)  # warm-up
    times = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        attention(np, q, k, v, a.causal)
        times.append(time.perf_counter() - t0)
    print(json.dumps({"impl": "numpy", "version": np.__version__,
                      "threads": a.threads, "median_s": statistics.median(times), "min_s": min(times),
                      "max_s": max(times), "runs": len(times)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
