"""scikit-learn as the oracle of ndtask's models (tests/ml.rs runs this).

    oracle.py blobs DIR SEED   writes DIR/x.npy (make_blobs: 3000 samples, 4 features, 5 centres)
                               and what scikit-learn fits on it: the scalers' statistics and
                               transforms, k-means (Lloyd) from the first 5 rows as centres, and
                               k-means with its own k-means++ (best of 10)
"""

import json
import os
import sys

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.preprocessing import MinMaxScaler, StandardScaler


def blobs(d, seed):
    os.makedirs(d, exist_ok=True)
    x, _ = make_blobs(n_samples=3000, centers=5, n_features=4, cluster_std=1.5, random_state=seed)
    x[:, 2] *= 1000.0  # features of very different scales
    save = lambda name, a: np.save(os.path.join(d, name + ".npy"), np.array(a, dtype="float64", order="C"))
    save("x", x)
    s = StandardScaler().fit(x)
    save("std_mean", s.mean_)
    save("std_var", s.var_)
    save("std_scale", s.scale_)
    save("std_x", s.transform(x))
    m = MinMaxScaler(feature_range=(-1, 2)).fit(x)
    save("mm_min", m.data_min_)
    save("mm_max", m.data_max_)
    save("mm_x", m.transform(x))
    init = x[:5]
    save("init", init)
    km = KMeans(n_clusters=5, init=init, n_init=1, algorithm="lloyd", tol=1e-4, max_iter=300).fit(x)
    save("km_centers", km.cluster_centers_)
    np.save(os.path.join(d, "km_labels.npy"), km.labels_.astype("int64"))
    best = KMeans(n_clusters=5, n_init=10, random_state=0).fit(x)
    with open(os.path.join(d, "km.json"), "w") as f:
        json.dump({"inertia": float(km.inertia_), "n_iter": int(km.n_iter_),
                   "best_inertia": float(best.inertia_)}, f)


if __name__ == "__main__":
    if sys.argv[1] == "blobs":
        blobs(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {sys.argv[1]}")
