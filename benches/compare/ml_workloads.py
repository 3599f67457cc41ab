"""The k-means workload of the machine-learning issue, one per process, on 1e7 x 10 float64
samples around 8 centres (`make_blobs(n_samples=10_000_000, n_features=10, centers=8,
random_state=0)`, written once to DATA/blobs.npy by `python ml_workloads.py make --data DATA`):

    M  k-means with k = 8 (k-means|| or k-means++ initialisation, then Lloyd)

    python ml_workloads.py M <ndtask|sklearn|daskml> --data DIR --kmeans BIN [--threads N]

ndtask runs `examples/kmeans` on the file in 1e5-row chunks (read from the file on every pass;
its own timing, from its --json line); sklearn loads the whole file and fits scikit-learn's
KMeans in memory (the baseline); daskml fits dask-ml's KMeans (k-means||) on da.from_array of
the memory-mapped file in 1e5-row chunks, on Dask's threaded scheduler. Prints one line:
`<seconds> <inertia>`; what is timed is the fit (and, for sklearn, loading the file).
"""

import argparse
import json
import os
import subprocess
import sys
import time


def make(data):
    import numpy as np
    from sklearn.datasets import make_blobs

    os.makedirs(data, exist_ok=True)
    x, _ = make_blobs(n_samples=10_000_000, n_features=10, centers=8, random_state=0)
    np.save(os.path.join(data, "blobs.npy"), x)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=["M", "make"])
    p.add_argument("side", nargs="?", choices=["ndtask", "sklearn", "daskml"])
    p.add_argument("--data", required=True)
    p.add_argument("--kmeans")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.workload == "make":
        return make(a.data)
    src = os.path.join(a.data, "blobs.npy")
    if a.side == "ndtask":
        line = subprocess.run(
            [a.kmeans, "--input", src, "--k", "8", "--chunk", "100000", "--json", "--threads", str(a.threads)],
            check=True, capture_output=True, text=True,
        ).stdout
        d = json.loads(line.strip().splitlines()[-1])
        secs, inertia = d["seconds"], d["inertia"]
    else:
        os.environ["OMP_NUM_THREADS"] = str(a.threads)
        import numpy as np

        t = time.perf_counter()
        if a.side == "sklearn":
            from sklearn.cluster import KMeans

            x = np.load(src)
            inertia = KMeans(n_clusters=8, random_state=0).fit(x).inertia_
        else:
            import dask
            import dask.array as da
            from dask_ml.cluster import KMeans

            x = da.from_array(np.load(src, mmap_mode="r"), chunks=(100_000, 10))
            with dask.config.set(scheduler="threads", num_workers=a.threads):
                inertia = KMeans(n_clusters=8, random_state=0).fit(x).inertia_
        secs = time.perf_counter() - t
    print(f"{secs:.6f} {float(inertia)!r}")


if __name__ == "__main__":
    sys.exit(main())
