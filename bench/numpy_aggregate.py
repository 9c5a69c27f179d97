#!/usr/bin/env python3
"""The NumPy weighted mean most Python FL frameworks run, timed on the same grid as
bench/aggregation_bench.cc (K updates of P float32 values, integer sample-count weights).

Two variants, both plain NumPy:
  copying    every update is multiplied by its weight into a new array, then the arrays are
             added up and divided by the total weight (the common framework pattern; it holds
             K weighted copies at once).
  streaming  acc += update * weight, one temporary per update (what a careful user would write;
             used where the copying variant's K weighted copies would not fit in memory).

Prints one JSON object per (K, P): seconds (median of the repetitions), GB/s of update data
read, peak RSS.
  /usr/bin/python3 bench/numpy_aggregate.py 10:1048576 100:1048576 10:104857600 100:104857600
"""
import json
import resource
import statistics
import sys
import time
from functools import reduce

import numpy as np

MEMORY_BUDGET = 4 << 30  # distinct update buffers, as the C++ benchmark
COPY_BUDGET = 8 << 30    # the copying variant's weighted copies


def updates_for(k, p):
    rng = np.random.default_rng(k * 1000003 + p)
    distinct = min(k, max(2, MEMORY_BUDGET // (4 * p)))
    buffers = [(rng.standard_normal(p, dtype=np.float32) * 0.01) for _ in range(distinct)]
    weights = [int(w) for w in rng.integers(50, 500, size=k)]
    return [buffers[i % distinct] for i in range(k)], weights


def copying_mean(updates, weights):
    total = sum(weights)
    weighted = [u * w for u, w in zip(updates, weights)]
    return reduce(np.add, weighted) / total


def streaming_mean(updates, weights):
    acc = np.zeros_like(updates[0], dtype=np.float32)
    for u, w in zip(updates, weights):
        acc += u * w
    return acc / sum(weights)


def main():
    for spec in sys.argv[1:]:
        k, p = (int(x) for x in spec.split(":"))
        updates, weights = updates_for(k, p)
        copying = k * p * 4 <= COPY_BUDGET
        fn = copying_mean if copying else streaming_mean
        reps = 5 if k * p <= 100 << 20 else 1
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            result = fn(updates, weights)
            times.append(time.perf_counter() - start)
            del result
        seconds = statistics.median(times)
        print(json.dumps({
            "k": k, "p": p, "variant": "copying" if copying else "streaming",
            "seconds": seconds, "gb_per_s": k * p * 4 / seconds / 1e9,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }), flush=True)
        del updates


if __name__ == "__main__":
    main()
