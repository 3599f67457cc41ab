"""scikit-learn as the oracle of ndtask's models (tests/ml.rs runs this).

    oracle.py blobs DIR SEED   writes DIR/x.npy (make_blobs: 3000 samples, 4 features, 5 centres)
                               and what scikit-learn fits on it: the scalers' statistics and
                               transforms, k-means (Lloyd) from the first 5 rows as centres, and
                               k-means with its own k-means++ (best of 10)
    oracle.py classify DIR     writes the seed's data (make_classification as in Dask-ML's
                               ParallelPostFit example, 2000 samples: the first 1000 train, the
                               rest test) and a 3-class problem, with what scikit-learn's
                               LogisticRegressionCV(cv=3) and LogisticRegression(C=1) give
"""

import json
import os
import sys

import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs, make_classification
from sklearn.linear_model import (LinearRegression, LogisticRegression, LogisticRegressionCV,
                                  SGDClassifier, SGDRegressor)
from sklearn.metrics import log_loss, r2_score
from sklearn.preprocessing import MinMaxScaler, StandardScaler

warnings.simplefilter("ignore", FutureWarning)


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


def classify(d):
    os.makedirs(d, exist_ok=True)
    save = lambda name, a: np.save(os.path.join(d, name + ".npy"), np.array(a, dtype="float64", order="C"))
    out = {}
    problems = {
        "two": make_classification(n_features=2, n_redundant=0, n_informative=2, random_state=1,
                                   n_clusters_per_class=1, n_samples=2000),
        "three": make_classification(n_samples=2000, n_features=6, n_informative=4, n_redundant=1,
                                     n_classes=3, random_state=5),
    }
    for name, (x, y) in problems.items():
        xt, yt, xs, ys = x[:1000], y[:1000], x[1000:], y[1000:]
        for part, a in [("x", xt), ("y", yt), ("x_test", xs), ("y_test", ys)]:
            save(f"{name}_{part}", a)
        cv = LogisticRegressionCV(cv=3).fit(xt, yt)
        one = LogisticRegression(C=1.0).fit(xt, yt)
        proba = one.predict_proba(xs)
        save(f"{name}_proba", proba)
        save(f"{name}_pred", one.predict(xs))
        out[name] = {"cv_accuracy": float(cv.score(xs, ys)), "best_c": float(cv.C_[0]),
                     "log_loss": float(log_loss(ys, proba)),
                     "r2": float(r2_score(ys, one.predict(xs)))}
        save(f"{name}_coef", one.coef_)
        save(f"{name}_intercept", one.intercept_)
    # Linear regression: a noisy linear target of six normal features.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 6)) * [1.0, 10.0, 0.1, 1.0, 3.0, 1.0] + 4.0
    t = x @ np.arange(1.0, 7.0) + 0.5 + rng.normal(size=len(x))
    save("lin_x", x)
    save("lin_t", t)
    lin = LinearRegression().fit(x, t)
    save("lin_coef", lin.coef_)
    out["lin_intercept"] = float(lin.intercept_)
    # SGD fed four blocks of 250 rows in order, twice (Dask-ML's Incremental), unshuffled.
    sgd = SGDRegressor(shuffle=False, alpha=1e-4, learning_rate="invscaling", eta0=0.01, power_t=0.25)
    xs = (x - x.mean(axis=0)) / x.std(axis=0)
    save("sgd_x", xs)
    for _ in range(2):
        for b in range(4):
            sgd.partial_fit(xs[250 * b:250 * (b + 1)], t[250 * b:250 * (b + 1)])
    save("sgd_reg", np.append(sgd.coef_, sgd.intercept_))
    # (The three-class log-loss fit is chaotic: its weights grow large, and rounding
    # differences double every few dozen steps; 200 rows keep them below 1e-9.)
    for name, loss, block in [("two", "hinge", 250), ("three", "log_loss", 50)]:
        x, y = problems[name][0][:4 * block], problems[name][1][:4 * block]
        clf = SGDClassifier(loss=loss, shuffle=False, alpha=1e-4)
        for _ in range(2):
            for b in range(4):
                clf.partial_fit(x[block * b:block * (b + 1)], y[block * b:block * (b + 1)], classes=np.unique(y))
        save(f"sgd_{name}", np.hstack([clf.coef_, clf.intercept_[:, None]]))
    with open(os.path.join(d, "classify.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    if sys.argv[1] == "blobs":
        blobs(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "classify":  # (the seed argument is not used)
        classify(sys.argv[2])
    else:
        raise SystemExit(f"unknown command {sys.argv[1]}")
