"""The workloads of the machine-learning issue, one per process:

    M   k-means with k = 8 (k-means|| or k-means++ initialisation, then Lloyd) on 1e7 x 10
        float64 samples around 8 centres (`make_blobs(n_samples=10_000_000, n_features=10,
        centers=8, random_state=0)`, written once to DATA/blobs.npy by
        `python ml_workloads.py make --data DATA`)
    MP  the Dask-ML seed: LogisticRegressionCV(cv=3) fitted on make_classification's 1000
        samples (2 informative features, one cluster per class, seed 1), then predictions and
        their accuracy and r2 on 100 copies of the training set, one chunk each

    python ml_workloads.py M <ndtask|sklearn|daskml> --data DIR --kmeans BIN [--threads N]
    python ml_workloads.py MP <ndtask|sklearn|daskml> --predict BIN [--threads N]

MP times only the prediction and scoring (the fit is the same small in-memory work on every
side): ndtask's examples/ml_predict (its own timing: the predictions, accuracy and r2 of the
100 chunks in one compute); sklearn predicts the concatenated array in memory (the baseline);
daskml is dask-ml's ParallelPostFit on da.concatenate of the copies, on Dask's threaded
scheduler: the predictions and their accuracy, then `score` with scoring="r2" (which fails
with "cannot broadcast shape (nan,)" on Dask 2026.11 + dask-ml 2025.1; then the r2 is left out
and the time of the failed call is not counted). Prints `<seconds> <accuracy>`.

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


def predict(a):
    if a.side == "ndtask":
        line = subprocess.run(
            [a.predict, "--samples", "1000", "--copies", "100", "--seed", "1", "--json",
             "--threads", str(a.threads)],
            check=True, capture_output=True, text=True,
        ).stdout
        d = json.loads(line.strip().splitlines()[-1])
        print(f"{d['seconds']:.6f} {d['accuracy']!r}")
        return
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    import warnings

    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegressionCV

    warnings.simplefilter("ignore", FutureWarning)
    x, y = make_classification(n_features=2, n_redundant=0, n_informative=2, random_state=1,
                               n_clusters_per_class=1, n_samples=1000)
    if a.side == "sklearn":
        from sklearn.metrics import r2_score

        clf = LogisticRegressionCV(cv=3).fit(x, y)
        xl, yl = np.concatenate([x] * 100), np.concatenate([y] * 100)
        t = time.perf_counter()
        pred = clf.predict(xl)
        acc = float((pred == yl).mean())
        r2_score(yl, pred)
        secs = time.perf_counter() - t
    else:
        import dask
        import dask.array as da
        from dask_ml.wrappers import ParallelPostFit

        clf = ParallelPostFit(LogisticRegressionCV(cv=3), scoring="r2").fit(x, y)
        xl = da.concatenate([da.from_array(x, chunks=x.shape) for _ in range(100)])
        yl = da.concatenate([da.from_array(y, chunks=y.shape) for _ in range(100)])
        with dask.config.set(scheduler="threads", num_workers=a.threads):
            t = time.perf_counter()
            pred = clf.predict(xl)
            acc = float((pred == yl).mean().compute())
            secs = time.perf_counter() - t
            try:
                t = time.perf_counter()
                clf.score(xl, yl)
                secs += time.perf_counter() - t
            except ValueError:
                pass
    print(f"{secs:.6f} {acc!r}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=["M", "MP", "make"])
    p.add_argument("side", nargs="?", choices=["ndtask", "sklearn", "daskml"])
    p.add_argument("--data")
    p.add_argument("--kmeans")
    p.add_argument("--predict")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.workload == "make":
        return make(a.data)
    if a.workload == "MP":
        return predict(a)
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
