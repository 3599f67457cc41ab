"""The benchmark workloads of issue 4 written for Dask, one per process.

    python workloads.py <A|B-sum|B-std|C|D|E|F|G|N|P|I|J|K|L> [--threads N] [--warmup N]

Runs the workload `--warmup` times untimed (default 1), then once timed, on Dask's threaded
scheduler with N workers (default 2), and prints one line: `<seconds> <result>`. The seconds
cover building the expression (Dask builds its task graph here) and computing it, exactly what
`examples/bench_workloads.rs` times for ndtask; imports and the warm-up are not included.
Random data comes from `da.random.default_rng(seed)` (NumPy's PCG64, one generator per chunk).
"""

import argparse
import sys
import time

import dask.array as da
import numpy as np

SEED = 42


def uniform_2d(n, c):
    return da.random.default_rng(SEED).random((n, n), chunks=(c, c))


def pi_hits(throws, chunk):
    # float32 throws, as ndtask's pi (24-bit coordinates; the bias, about 2.4e-7, is far below
    # the statistical error).
    rng = da.random.default_rng(SEED)
    x = rng.random(throws, chunks=chunk, dtype=np.float32)
    y = rng.random(throws, chunks=chunk, dtype=np.float32)
    return (x * x + y * y <= 1.0).sum()


def concat_colsum():
    x = uniform_2d(5000, 1000)
    return da.concatenate([x, x], axis=0).sum(axis=0)


def pattern(kind, n=40000, c=1000):
    """The bounded-memory issue's patterns (I to L) on an n x n uniform array in c x c chunks."""
    x = uniform_2d(n, c)
    if kind == "I":
        return ((x - x.mean()) ** 2).mean()
    if kind == "J":
        return ((x - x.mean(axis=0)) ** 2).mean()
    if kind == "K":
        return (x.T * x).mean()
    return x.rechunk((n, c * c // n)).std(axis=0).mean()


def fused():
    x = uniform_2d(10000, 1000)
    return ((x + 1.0) * 2.0 - x * x).mean()


WORKLOADS = {
    "A": lambda: uniform_2d(10000, 1000).mean(),
    "B-sum": lambda: uniform_2d(10000, 1000).sum(),
    "B-std": lambda: uniform_2d(10000, 1000).std(),
    "C": concat_colsum,
    "D": lambda: pi_hits(100_000_000, 1_000_000),
    "E": lambda: da.ones((1000, 1000), chunks=(10, 10)).sum(),
    "F": fused,
    "G": lambda: uniform_2d(40000, 2000).mean(),
    "N": lambda: da.random.default_rng(SEED).standard_normal(100_000_000, chunks=1_000_000).sum(),
    "P": lambda: pi_hits(1_000_000_000, 1_000_000),
    "I": lambda: pattern("I"),
    "J": lambda: pattern("J"),
    "K": lambda: pattern("K"),
    "L": lambda: pattern("L"),
}


def run(build, threads):
    value = build().compute(scheduler="threads", num_workers=threads)
    # C gives the column sums; summarise them like the Rust side does.
    return float(value.sum()) if getattr(value, "ndim", 0) else float(value)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    a = p.parse_args()
    build = WORKLOADS[a.workload]
    for _ in range(a.warmup):
        run(build, a.threads)
    t = time.perf_counter()
    value = run(build, a.threads)
    print(f"{time.perf_counter() - t:.6f} {value!r}")


if __name__ == "__main__":
    sys.exit(main())
