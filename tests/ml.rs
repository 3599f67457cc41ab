//! Models on chunked arrays against scikit-learn (tests/ml/oracle.py): scalers to 1e-12,
//! k-means from the same centres to scikit-learn's centres, labels and inertia, and every
//! k-means result the same bits on every chunking and scheduler.
#![cfg(feature = "ml")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{python, schedulers};
use ndarray::{Array2, ArrayD};
use ndtask::ml::{KMeans, KMeansInit, KMeansModel, MinMaxScaler, StandardScaler};
use ndtask::{Array, Chunks, Config};
use std::path::{Path, PathBuf};

fn oracle(py: &Path, dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ml/oracle.py");
    let out = std::process::Command::new(py)
        .arg(&script)
        .args(["blobs", dir.to_str().unwrap(), "3"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oracle.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ndtask-ml-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn npy(dir: &Path, name: &str) -> ArrayD<f64> {
    let path = dir.join(format!("{name}.npy"));
    let (shape, _) = ndtask::io::npy_shape(&path).unwrap();
    let chunks: Vec<usize> = shape.iter().map(|&n| n.max(1)).collect();
    ndtask::io::open_npy(&path, chunks)
        .unwrap()
        .compute()
        .unwrap()
        .to_f64()
}

fn close(got: &[f64], want: &ArrayD<f64>, tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (g, w) in got.iter().zip(want.iter()) {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}: got {g}, want {w}"
        );
    }
}

/// The data in row chunks of these sizes (all features in each).
fn chunked(x: &ArrayD<f64>, rows: &[usize]) -> Array<f64> {
    let a = ndtask::from_ndarray(x.clone(), [x.shape()[0], x.shape()[1]]).unwrap();
    a.rechunk(Chunks::Explicit(vec![rows.to_vec(), vec![x.shape()[1]]]))
        .unwrap()
}

/// Three chunkings of 3000 rows: one chunk, even chunks, uneven chunks; and one whose chunks
/// also cut the features.
fn chunkings(x: &ArrayD<f64>) -> Vec<Array<f64>> {
    let n = x.shape()[0];
    let uneven: Vec<usize> = vec![1, 999, 7, 1500, 493];
    assert_eq!(uneven.iter().sum::<usize>(), n);
    let mut v = vec![chunked(x, &[n]), chunked(x, &[500; 6]), chunked(x, &uneven)];
    v.push(ndtask::from_ndarray(x.clone(), [256, 3]).unwrap());
    v
}

fn bits(m: &KMeansModel) -> (Vec<u64>, u64, usize) {
    (
        m.centers.iter().map(|v| v.to_bits()).collect(),
        m.inertia.to_bits(),
        m.n_iter,
    )
}

/// Labels equal up to renaming the clusters.
fn same_partition(a: &[i64], b: &[i64]) -> bool {
    let mut map = std::collections::HashMap::new();
    let mut back = std::collections::HashMap::new();
    a.iter()
        .zip(b)
        .all(|(x, y)| *map.entry(x).or_insert(y) == y && *back.entry(y).or_insert(x) == x)
}

#[test]
fn scalers_match_scikit_learn() {
    let Some(py) = python(&["sklearn"]) else {
        return;
    };
    let dir = temp("scalers");
    oracle(&py, &dir);
    let x = npy(&dir, "x");
    for (i, xc) in chunkings(&x).into_iter().enumerate() {
        let cfg = &schedulers()[i % 4];
        let s = StandardScaler::fit_with(&xc, cfg).unwrap();
        close(&s.mean, &npy(&dir, "std_mean"), 1e-12, "mean");
        close(&s.var, &npy(&dir, "std_var"), 1e-12, "var");
        close(&s.scale, &npy(&dir, "std_scale"), 1e-12, "scale");
        let t = cfg.compute(&s.transform(&xc).unwrap()).unwrap();
        close(
            t.as_slice().unwrap(),
            &npy(&dir, "std_x"),
            1e-12,
            "standard transform",
        );
        let back = cfg
            .compute(&s.inverse_transform(&s.transform(&xc).unwrap()).unwrap())
            .unwrap();
        close(back.as_slice().unwrap(), &x, 1e-12, "inverse transform");
        let m = MinMaxScaler::fit_with(&xc, (-1.0, 2.0), cfg).unwrap();
        close(&m.data_min, &npy(&dir, "mm_min"), 0.0, "data_min");
        close(&m.data_max, &npy(&dir, "mm_max"), 0.0, "data_max");
        let t = cfg.compute(&m.transform(&xc).unwrap()).unwrap();
        close(
            t.as_slice().unwrap(),
            &npy(&dir, "mm_x"),
            1e-12,
            "min-max transform",
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn kmeans_matches_scikit_learn_and_is_the_same_bits_on_every_chunking_and_scheduler() {
    let Some(py) = python(&["sklearn"]) else {
        return;
    };
    let dir = temp("kmeans");
    oracle(&py, &dir);
    let x = npy(&dir, "x");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("km.json")).unwrap()).unwrap();
    let init = npy(&dir, "init")
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    let want_labels: Vec<i64> = {
        let p = dir.join("km_labels.npy");
        ndtask::io::open_npy(&p, [3000])
            .unwrap()
            .compute()
            .unwrap()
            .to_f64()
            .iter()
            .map(|&v| v as i64)
            .collect()
    };
    // From scikit-learn's initial centres: its centres, labels and inertia.
    let given = KMeans::new(5).init(KMeansInit::Given(init));
    let mut first: Option<(Vec<u64>, u64, usize)> = None;
    for (i, xc) in chunkings(&x).into_iter().enumerate() {
        for cfg in schedulers() {
            let m = given.fit_with(&xc, &cfg).unwrap();
            match &first {
                None => {
                    close(
                        m.centers.as_slice().unwrap(),
                        &npy(&dir, "km_centers"),
                        1e-9,
                        "centres",
                    );
                    let want = meta["inertia"].as_f64().unwrap();
                    assert!(
                        (m.inertia - want).abs() <= 1e-3 * want,
                        "inertia {} vs {want}",
                        m.inertia
                    );
                    assert_eq!(
                        m.n_iter as u64,
                        meta["n_iter"].as_u64().unwrap(),
                        "iterations"
                    );
                    first = Some(bits(&m));
                }
                Some(b) => assert_eq!(
                    &bits(&m),
                    b,
                    "chunking {i}: k-means differs on {}",
                    cfg.name()
                ),
            }
            let labels = cfg.compute(&m.predict(&xc).unwrap()).unwrap();
            let labels: Vec<i64> = labels.iter().copied().collect();
            assert!(
                same_partition(&labels, &want_labels),
                "chunking {i}: labels differ from scikit-learn's"
            );
        }
    }
    // k-means|| from a seed: the same bits everywhere, as good as scikit-learn's best of ten
    // k-means++ starts on these blobs.
    let ours = KMeans::new(5).seed(11);
    let mut first: Option<(Vec<u64>, u64, usize)> = None;
    for (i, xc) in chunkings(&x).into_iter().enumerate() {
        for cfg in schedulers() {
            let m = ours.fit_with(&xc, &cfg).unwrap();
            match &first {
                None => {
                    let best = meta["best_inertia"].as_f64().unwrap();
                    assert!(
                        m.inertia <= best * 1.001,
                        "k-means|| inertia {} vs scikit-learn's best {best}",
                        m.inertia
                    );
                    assert!(m.converged);
                    first = Some(bits(&m));
                }
                Some(b) => assert_eq!(
                    &bits(&m),
                    b,
                    "chunking {i}: k-means|| differs on {}",
                    cfg.name()
                ),
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_a_clear_error() {
    let x = ndtask::from_ndarray(
        Array2::from_shape_fn((10, 3), |(i, j)| (i * 3 + j) as f64),
        [4, 3],
    )
    .unwrap();
    let cfg = Config::default();
    let e = KMeans::new(11).fit(&x).unwrap_err().to_string();
    assert!(e.contains("k = 11") && e.contains("10 samples"), "{e}");
    let e = KMeans::new(0).fit(&x).unwrap_err().to_string();
    assert!(e.contains("k = 0"), "{e}");
    let mut nan = Array2::<f64>::zeros((10, 3));
    nan[[4, 1]] = f64::NAN;
    nan[[7, 2]] = f64::INFINITY;
    let nan = ndtask::from_ndarray(nan, [5, 3]).unwrap();
    for e in [
        KMeans::new(2).fit(&nan).unwrap_err().to_string(),
        StandardScaler::fit(&nan).unwrap_err().to_string(),
        MinMaxScaler::fit(&nan).unwrap_err().to_string(),
    ] {
        assert!(e.contains("2 NaN or infinite"), "{e}");
    }
    let empty = ndtask::from_ndarray(Array2::<f64>::zeros((0, 3)), [1, 3]).unwrap();
    let e = StandardScaler::fit(&empty).unwrap_err().to_string();
    assert!(e.contains("empty"), "{e}");
    let m = KMeans::new(2).fit_with(&x, &cfg).unwrap();
    let other = ndtask::from_ndarray(Array2::<f64>::zeros((4, 2)), [2, 2]).unwrap();
    let e = m.predict(&other).unwrap_err().to_string();
    assert!(e.contains("3 features") && e.contains("[4, 2]"), "{e}");
    let s = StandardScaler::fit(&x).unwrap();
    let e = s.transform(&other).unwrap_err().to_string();
    assert!(e.contains("3 features") && e.contains("[4, 2]"), "{e}");
    let e = KMeans::new(2)
        .init(KMeansInit::Given(Array2::zeros((3, 3))))
        .fit(&x)
        .unwrap_err()
        .to_string();
    assert!(e.contains("(3, 3)") && e.contains("(2, 3)"), "{e}");
    let e = MinMaxScaler::fit_with(&x, (1.0, 1.0), &cfg)
        .unwrap_err()
        .to_string();
    assert!(e.contains("(1, 1)"), "{e}");
    for (km, what) in [
        (
            KMeans::new(2).kmeans_parallel(f64::INFINITY, 2),
            "oversampling inf",
        ),
        (KMeans::new(2).kmeans_parallel(2.0, 0), "got 0"),
        (KMeans::new(2).tol(f64::NAN), "tolerance NaN"),
    ] {
        let e = km.fit(&x).unwrap_err().to_string();
        assert!(e.contains(what), "{e}");
    }
    // Values whose squared distances would overflow float64 sums are refused, not wrong.
    let huge = ndtask::from_ndarray(
        Array2::from_shape_fn((6, 2), |(i, _)| i as f64 * 1e160),
        [3, 2],
    )
    .unwrap();
    let e = KMeans::new(2).fit(&huge).unwrap_err().to_string();
    assert!(e.contains("overflow"), "{e}");
    // Tiny values keep their precision; given centres far outside the data still give the
    // right inertia.
    let tiny = ndtask::from_ndarray(
        Array2::from_shape_fn((6, 1), |(i, _)| (i % 2) as f64 * 1e-150),
        [4, 1],
    )
    .unwrap();
    let m = KMeans::new(2).fit(&tiny).unwrap();
    assert_eq!(m.inertia, 0.0);
    let mut c = m.centers.iter().copied().collect::<Vec<f64>>();
    c.sort_by(f64::total_cmp);
    assert_eq!(c, vec![0.0, 1e-150]);
    let far = KMeans::new(1)
        .init(KMeansInit::Given(Array2::from_elem((1, 3), 1e6)))
        .max_iter(0)
        .fit(&x)
        .unwrap();
    let want: f64 = (0..30).map(|v| (v as f64 - 1e6) * (v as f64 - 1e6)).sum();
    assert!(
        (far.inertia - want).abs() <= 1e-12 * want,
        "{} vs {want}",
        far.inertia
    );
    // A constant feature: scaled by 1, as scikit-learn.
    let c = ndtask::from_ndarray(Array2::from_elem((5, 1), 4.0), [2, 1]).unwrap();
    assert_eq!(StandardScaler::fit(&c).unwrap().scale, vec![1.0]);
    // Also one whose variance is only rounding (0.1 is not exact in binary).
    let c = ndtask::from_ndarray(Array2::from_elem((1000, 1), 0.1), [7, 1]).unwrap();
    let s = StandardScaler::fit(&c).unwrap();
    assert_eq!(s.scale, vec![1.0]);
    let t = s.transform(&c).unwrap().compute().unwrap();
    assert!(t.iter().all(|v| v.abs() < 1e-15), "{t}");
}
