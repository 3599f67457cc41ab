"""Turns the raw runs of run.sh into markdown tables: medians, ratios, peak RSS, targets.

    python table.py RAW_DIR RUNS THREADS JOB...      (a job is "workload:threads")

RAW_DIR holds, per job, side (ndtask, baseline, dask) and round, `<job>.<side>.<round>.out`
(one line: seconds and a result value) and `.time` (the report of /usr/bin/time -v).
"""

import os
import re
import statistics
import sys

SIDES = ("ndtask", "baseline", "dask")

# Issue 4's targets: (workload, most ndtask/baseline, least Dask/ndtask).
TARGETS = {
    "A": (1.2, 2.5),
    "B-sum": (1.2, 2.5),
    "B-std": (1.2, 2.5),
    "C": (None, 3.0),
    "D": (1.2, 5.0),
    "E": (None, 50.0),
    "F": (1.3, 4.0),
    "G": (1.2, None),
}
G_RSS_MIB = 64
H_SPEEDUP = 1.8
# The random-arrays issue: P (pi, 1e9 throws) at most half the xoshiro256++ loop's time; N
# (normal variates, 1 thread) at least 1.5x NumPy's standard_normal throughput per thread
# (Dask on 1 thread: NumPy's generator per chunk).
P_MOST = 0.5
N_LEAST = 1.5
# The bounded-memory issue: the patterns I to L (their baseline is ndtask's plain mean of the
# same array) at most this many times the plain mean, with peak RSS at most PATTERN_RSS_MIB.
PATTERN_MOST = {"I": 2.5, "J": 2.5, "K": 2.5, "L": 4.0}
PATTERN_NAMES = {"I": "center", "J": "anomaly", "K": "transpose", "L": "rechunk"}
PATTERN_RSS_MIB = 256
# The Zarr issue: S (statistics) and Z (anomaly written) on the 20000² store at least 3x faster
# than Dask + zarr-python, peak RSS at most 256 MiB (their baseline: zarr-python + NumPy).
ZARR_LEAST = 3.0
ZARR_RSS_MIB = 256
# The bags issue: R (read, decode, filter and count JSON records) at least 5x faster than Dask.
BAG_LEAST = 5.0
# The labelled-arrays issue: X (monthly climatology and anomaly of a 3 GB float32 Zarr group,
# written to a new group; its baseline is ndtask's plain copy of the store) at most 1.5x the
# copy, at least 3x faster than Xarray + Dask (+ flox), peak RSS at most 512 MiB.
X_MOST = 1.5
X_LEAST = 3.0
X_RSS_MIB = 512
# The machine-learning issue: M (k-means, k = 8, on 1e7 x 10 float64) at least 5x faster than
# dask-ml, within 1.5x of scikit-learn in memory (the baseline), at less memory than either.
M_LEAST = 5.0
M_MOST = 1.5
# Its seed, MP (ParallelPostFit's predictions and scores on 100 chunks): at least 10x faster
# than dask-ml.
MP_LEAST = 10.0


def load(raw, job, side, runs):
    secs, rss, values = [], [], []
    for r in range(1, runs + 1):
        base = os.path.join(raw, f"{job}.{side}.{r}")
        with open(base + ".out") as f:
            s, v = f.read().split()[:2]
        secs.append(float(s))
        values.append(float(v))
        with open(base + ".time") as f:
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
        rss.append(int(m.group(1)) / 1024 if m else float("nan"))
    return statistics.median(secs), max(rss), statistics.median(values), min(secs), max(secs)


def fmt_s(x):
    return f"{x:.4f}" if x < 1 else f"{x:.3f}"


def main():
    raw, runs, threads, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    with open(os.path.join(raw, "header")) as f:
        print(f.read().strip().replace("\n", "  \n"))
    print()
    m = {(j, s): load(raw, j, s, runs) for j in jobs for s in SIDES}

    print(f"Median of {runs} timed runs (each after a warm-up run in the same process); "
          "peak RSS is the largest of the runs.\n")
    print("| workload | threads | ndtask s | baseline s | Dask s | ndtask / baseline "
          "| Dask / ndtask | RSS ndtask MiB | RSS baseline MiB | RSS Dask MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for j in jobs:
        w, t = j.split(":")
        nd, bl, dk = (m[(j, s)] for s in SIDES)
        print(f"| {w} | {t} | {fmt_s(nd[0])} | {fmt_s(bl[0])} | {fmt_s(dk[0])} "
              f"| {nd[0] / bl[0]:.2f}x | {dk[0] / nd[0]:.1f}x "
              f"| {nd[1]:.0f} | {bl[1]:.0f} | {dk[1]:.0f} |")

    print("\nSpread (fastest - slowest run, seconds) and result values (median), to check the "
          "sides compute the same thing:\n")
    print("| workload | threads | ndtask | baseline | Dask | ndtask value | baseline value "
          "| Dask value |")
    print("|---|---:|---|---|---|---:|---:|---:|")
    for j in jobs:
        w, t = j.split(":")
        cells = [f"{fmt_s(m[(j, s)][3])} - {fmt_s(m[(j, s)][4])}" for s in SIDES]
        vals = [f"{m[(j, s)][2]:.6g}" for s in SIDES]
        print(f"| {w} | {t} | " + " | ".join(cells) + " | " + " | ".join(vals) + " |")

    print(f"\nTargets of issue 4 ({threads} threads):\n")
    print("| workload | target | measured | holds |")
    print("|---|---|---:|---|")
    for j in jobs:
        w, t = j.split(":")
        if int(t) != threads or w not in TARGETS:
            continue
        nd, bl, dk = (m[(j, s)] for s in SIDES)
        most, least = TARGETS[w]
        if most is not None:
            r = nd[0] / bl[0]
            print(f"| {w} | ndtask <= {most}x graph-free loop | {r:.2f}x "
                  f"| {'yes' if r <= most else 'NO'} |")
        if least is not None:
            r = dk[0] / nd[0]
            print(f"| {w} | >= {least}x faster than Dask | {r:.1f}x "
                  f"| {'yes' if r >= least else 'NO'} |")
        if w == "G":
            print(f"| G | peak RSS <= {G_RSS_MIB} MiB | {nd[1]:.0f} MiB "
                  f"| {'yes' if nd[1] <= G_RSS_MIB else 'NO'} |")
    if f"P:{threads}" in jobs:
        nd, bl, _ = (m[(f"P:{threads}", s)] for s in SIDES)
        r = nd[0] / bl[0]
        print(f"| P | ndtask <= {P_MOST}x the xoshiro256++ loop | {r:.2f}x "
              f"| {'yes' if r <= P_MOST else 'NO'} |")
    if "N:1" in jobs:
        nd, _, dk = (m[("N:1", s)] for s in SIDES)
        r = dk[0] / nd[0]
        print(f"| N (1 thread) | >= {N_LEAST}x NumPy's standard_normal | {r:.2f}x "
              f"| {'yes' if r >= N_LEAST else 'NO'} |")
    for w, most in PATTERN_MOST.items():
        j = f"{w}:{threads}"
        if j not in jobs:
            continue
        nd, bl, dk = (m[(j, s)] for s in SIDES)
        r = nd[0] / bl[0]
        print(f"| {w} ({PATTERN_NAMES[w]}) | <= {most}x the plain mean of the array | {r:.2f}x "
              f"| {'yes' if r <= most else 'NO'} |")
        print(f"| {w} ({PATTERN_NAMES[w]}) | peak RSS <= {PATTERN_RSS_MIB} MiB | {nd[1]:.0f} MiB "
              f"(Dask {dk[1]:.0f} MiB, {dk[0]:.1f} s) | {'yes' if nd[1] <= PATTERN_RSS_MIB else 'NO'} |")
    for w, name in (("S", "stats"), ("Z", "anomaly to Zarr")):
        j = f"{w}:{threads}"
        if j not in jobs:
            continue
        nd, bl, dk = (m[(j, s)] for s in SIDES)
        r = dk[0] / nd[0]
        print(f"| {w} ({name}) | >= {ZARR_LEAST}x faster than Dask + zarr-python | {r:.1f}x "
              f"| {'yes' if r >= ZARR_LEAST else 'NO'} |")
        print(f"| {w} ({name}) | peak RSS <= {ZARR_RSS_MIB} MiB | {nd[1]:.0f} MiB (Dask "
              f"{dk[1]:.0f} MiB, NumPy in memory {bl[1]:.0f} MiB) "
              f"| {'yes' if nd[1] <= ZARR_RSS_MIB else 'NO'} |")
    j = f"M:{threads}"
    if j in jobs:
        nd, bl, dk = (m[(j, s)] for s in SIDES)
        print(f"| M (k-means) | >= {M_LEAST}x faster than dask-ml | {dk[0] / nd[0]:.1f}x ({nd[0]:.1f} s vs "
              f"{dk[0]:.1f} s) | {'yes' if dk[0] / nd[0] >= M_LEAST else 'NO'} |")
        print(f"| M (k-means) | <= {M_MOST}x scikit-learn in memory | {nd[0] / bl[0]:.2f}x ({bl[0]:.1f} s) "
              f"| {'yes' if nd[0] / bl[0] <= M_MOST else 'NO'} |")
        less = nd[1] < min(bl[1], dk[1])
        print(f"| M (k-means) | less peak RSS than either | {nd[1]:.0f} MiB (scikit-learn {bl[1]:.0f} MiB, "
              f"dask-ml {dk[1]:.0f} MiB) | {'yes' if less else 'NO'} |")
    j = f"MP:{threads}"
    if j in jobs:
        nd, bl, dk = (m[(j, s)] for s in SIDES)
        print(f"| MP (ParallelPostFit seed) | >= {MP_LEAST}x faster than dask-ml | {dk[0] / nd[0]:.1f}x "
              f"({fmt_s(nd[0])} s vs {fmt_s(dk[0])} s; scikit-learn in memory {fmt_s(bl[0])} s) "
              f"| {'yes' if dk[0] / nd[0] >= MP_LEAST else 'NO'} |")
    j = f"X:{threads}"
    if j in jobs:
        nd, bl, dk = (m[(j, s)] for s in SIDES)
        print(f"| X (climatology + anomaly) | <= {X_MOST}x ndtask's plain copy of the store | "
              f"{nd[0] / bl[0]:.2f}x ({nd[0]:.1f} s vs {bl[0]:.1f} s) | {'yes' if nd[0] / bl[0] <= X_MOST else 'NO'} |")
        print(f"| X (climatology + anomaly) | >= {X_LEAST}x faster than Xarray + Dask + flox | "
              f"{dk[0] / nd[0]:.1f}x ({dk[0]:.1f} s) | {'yes' if dk[0] / nd[0] >= X_LEAST else 'NO'} |")
        print(f"| X (climatology + anomaly) | peak RSS <= {X_RSS_MIB} MiB | {nd[1]:.0f} MiB (Xarray + Dask "
              f"{dk[1]:.0f} MiB, the copy {bl[1]:.0f} MiB) | {'yes' if nd[1] <= X_RSS_MIB else 'NO'} |")
    for w, name in (("R", "whole records"), ("R-age", "the age field")):
        j = f"{w}:{threads}"
        if j not in jobs:
            continue
        nd, bl, dk = (m[(j, s)] for s in SIDES)
        r = dk[0] / nd[0]
        print(f"| {w} (people, decoding {name}) | >= {BAG_LEAST}x faster than Dask bag | {r:.1f}x "
              f"(a plain Python loop: {bl[0] / nd[0]:.1f}x ndtask's time) "
              f"| {'yes' if r >= BAG_LEAST else 'NO'} |")
    for w in ("A", "D"):
        one, many = f"{w}:1", f"{w}:{threads}"
        if one in jobs and many in jobs and threads > 1:
            s = {side: m[(one, side)][0] / m[(many, side)][0] for side in SIDES}
            print(f"| H ({w}) | {threads} threads vs 1 >= {H_SPEEDUP}x | {s['ndtask']:.2f}x "
                  f"(baseline {s['baseline']:.2f}x, Dask {s['dask']:.2f}x) "
                  f"| {'yes' if s['ndtask'] >= H_SPEEDUP else 'NO'} |")


if __name__ == "__main__":
    main()
