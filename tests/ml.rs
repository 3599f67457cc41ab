//! Models on chunked arrays against scikit-learn (tests/ml/oracle.py): scalers to 1e-12,
//! k-means from the same centres to scikit-learn's centres, labels and inertia, logistic
//! regression (plain and cross-validated) and linear regression to scikit-learn's fits and
//! accuracy, the metrics to scikit-learn's; every fit and prediction the same bits on every
//! chunking and scheduler; parallel prediction with smartcore's models equal to their own
//! prediction in memory; the generators and the split the same for every chunking.
#![cfg(feature = "ml")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{python, schedulers};
use ndarray::{Array2, ArrayD};
use ndtask::ml::{
    accuracy_score, log_loss, r2_score, train_test_split, Incremental, KMeans, KMeansInit,
    KMeansModel, LinearRegression, LogisticRegression, LogisticRegressionCV, MakeBlobs,
    MakeClassification, MinMaxScaler, ParallelPostFit, Sgd, SgdLoss, StandardScaler,
};
use ndtask::{Array, Chunks, Config};
use std::path::{Path, PathBuf};

fn oracle(py: &Path, command: &str, dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ml/oracle.py");
    let out = std::process::Command::new(py)
        .arg(&script)
        .args([command, dir.to_str().unwrap(), "3"])
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
    oracle(&py, "blobs", &dir);
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
    oracle(&py, "blobs", &dir);
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

/// A 1-D array of `v` in chunks of these sizes.
fn labels(v: &ArrayD<f64>, chunks: &[usize]) -> Array<f64> {
    ndtask::from_ndarray(v.clone(), [v.len()])
        .unwrap()
        .rechunk(Chunks::Explicit(vec![chunks.to_vec()]))
        .unwrap()
}

/// Three row chunkings of 1000 samples, and for each a different chunking of the labels.
fn chunkings_1000(x: &ArrayD<f64>, y: &ArrayD<f64>) -> Vec<(Array<f64>, Array<f64>)> {
    let uneven = [1, 499, 7, 300, 193];
    vec![
        (chunked(x, &[1000]), labels(y, &[400, 600])),
        (chunked(x, &[250; 4]), labels(y, &[1000])),
        (chunked(x, &uneven), labels(y, &[3, 997])),
    ]
}

fn to_bits(v: impl IntoIterator<Item = f64>) -> Vec<u64> {
    v.into_iter().map(f64::to_bits).collect()
}

#[test]
fn logistic_regression_matches_scikit_learn_and_is_the_same_bits_everywhere() {
    let Some(py) = python(&["sklearn"]) else {
        return;
    };
    let dir = temp("classify");
    oracle(&py, "classify", &dir);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("classify.json")).unwrap()).unwrap();
    for name in ["two", "three"] {
        let (x, y) = (
            npy(&dir, &format!("{name}_x")),
            npy(&dir, &format!("{name}_y")),
        );
        let x_test = chunked(&npy(&dir, &format!("{name}_x_test")), &[300, 700]);
        let y_test = labels(&npy(&dir, &format!("{name}_y_test")), &[1000]);
        let want_proba = npy(&dir, &format!("{name}_proba"));
        let m = &meta[name];
        // C = 1: scikit-learn's probabilities (its solver stops at a gradient of 1e-4, so to
        // about 1e-3), and the same bits on every chunking and scheduler.
        let mut first: Option<Vec<u64>> = None;
        for (xc, yc) in chunkings_1000(&x, &y) {
            for cfg in schedulers() {
                let model = LogisticRegression::new().fit_with(&xc, &yc, &cfg).unwrap();
                let bits = to_bits(model.coef.iter().copied().chain(model.intercept.clone()));
                match &first {
                    None => {
                        let proba = cfg.compute(&model.predict_proba(&x_test).unwrap()).unwrap();
                        close(
                            proba.as_slice().unwrap(),
                            &want_proba,
                            2e-3,
                            "probabilities",
                        );
                        let classes = model.classes.clone();
                        let loss =
                            log_loss(&y_test, &model.predict_proba(&x_test).unwrap(), &classes)
                                .unwrap()
                                .compute_with(&cfg)
                                .unwrap();
                        let want = m["log_loss"].as_f64().unwrap();
                        assert!(
                            (loss - want).abs() <= 1e-3 * want,
                            "{name}: log-loss {loss} vs {want}"
                        );
                        first = Some(bits);
                    }
                    Some(b) => assert_eq!(&bits, b, "{name}: the fit differs on {}", cfg.name()),
                }
            }
        }
        // Cross-validated: scikit-learn's test accuracy within 0.5 points; the same strength
        // and predictions everywhere.
        let mut first: Option<(u64, Vec<u64>)> = None;
        for (i, (xc, yc)) in chunkings_1000(&x, &y).into_iter().enumerate() {
            let cfgs = schedulers();
            for cfg in if i == 0 { &cfgs[..] } else { &cfgs[..2] } {
                let cv = LogisticRegressionCV::new().fit_with(&xc, &yc, cfg).unwrap();
                let pred = cfg.compute(&cv.model.predict(&x_test).unwrap()).unwrap();
                let got = (cv.best_c.to_bits(), to_bits(pred.iter().copied()));
                match &first {
                    None => {
                        let acc = accuracy_score(&y_test, &cv.model.predict(&x_test).unwrap())
                            .unwrap()
                            .compute_with(cfg)
                            .unwrap();
                        let want = m["cv_accuracy"].as_f64().unwrap();
                        assert!(
                            (acc - want).abs() <= 0.005,
                            "{name}: cross-validated accuracy {acc} vs scikit-learn's {want} (C = {} vs {})",
                            cv.best_c,
                            m["best_c"]
                        );
                        assert_eq!(cv.scores.dim(), (3, 10));
                        first = Some(got);
                    }
                    Some(b) => assert_eq!(
                        &got,
                        b,
                        "{name}: cross-validation differs on {}",
                        cfg.name()
                    ),
                }
            }
        }
        // The metrics of scikit-learn's own predictions equal its metrics.
        let pred = labels(&npy(&dir, &format!("{name}_pred")), &[333, 667]);
        let proba = chunked(&want_proba, &[10, 990]);
        let classes: Vec<f64> = (0..want_proba.shape()[1]).map(|c| c as f64).collect();
        let (loss, r2) = ndtask::compute((
            &log_loss(&y_test, &proba, &classes).unwrap(),
            &r2_score(&y_test, &pred).unwrap(),
        ))
        .unwrap();
        for (got, key) in [(loss, "log_loss"), (r2, "r2")] {
            let want = m[key].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{name}: {key} {got} vs {want}"
            );
        }
    }
    // Linear regression: scikit-learn's coefficients, the same bits everywhere.
    let x = npy(&dir, "lin_x");
    let t = npy(&dir, "lin_t");
    let want = npy(&dir, "lin_coef");
    let mut first = None;
    for (xc, tc) in chunkings_1000(&x, &t) {
        for cfg in schedulers() {
            let m = LinearRegression::new().fit_with(&xc, &tc, &cfg).unwrap();
            match &first {
                None => {
                    close(&m.coef, &want, 1e-9, "linear coefficients");
                    let b = meta["lin_intercept"].as_f64().unwrap();
                    assert!(
                        (m.intercept - b).abs() <= 1e-9,
                        "intercept {} vs {b}",
                        m.intercept
                    );
                    first = Some(to_bits(m.coef.iter().copied().chain([m.intercept])));
                }
                Some(b) => assert_eq!(
                    &to_bits(m.coef.iter().copied().chain([m.intercept])),
                    b,
                    "linear regression differs on {}",
                    cfg.name()
                ),
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Samples in three loose clusters with labels, in memory.
fn toy(n: usize) -> (Array2<f64>, ndarray::Array1<i64>) {
    let x = Array2::from_shape_fn((n, 3), |(i, j)| {
        let c = (i % 3) as f64 * 4.0;
        c + ((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.5 + j as f64
    });
    let y = ndarray::Array1::from_shape_fn(n, |i| (i % 3) as i64);
    (x, y)
}

#[test]
fn parallel_post_fit_predicts_as_smartcore_does_in_memory_on_every_chunking() {
    use ndtask::ml::smartcore;
    use smartcore::cluster::kmeans::{KMeans as SmartKMeans, KMeansParameters};
    use smartcore::ensemble::random_forest_classifier::{
        RandomForestClassifier, RandomForestClassifierParameters,
    };
    use smartcore::linear::linear_regression::{
        LinearRegression as SmartLinear, LinearRegressionParameters,
    };
    use smartcore::linear::logistic_regression::{
        LogisticRegression as SmartLogistic, LogisticRegressionParameters,
    };
    let (x, y) = toy(300);
    let (x_new, _) = toy(500);
    let x_dyn = x_new.clone().into_dyn();
    let chunkings = || {
        let mut v = vec![chunked(&x_dyn, &[500]), chunked(&x_dyn, &[1, 99, 400])];
        // Chunks that cut the features are rechunked to whole rows.
        v.push(ndtask::from_ndarray(x_new.clone(), [64, 2]).unwrap());
        v
    };
    let check = |name: &str, want: Vec<f64>, predict: &dyn Fn(&Array<f64>) -> Array<f64>| {
        for xc in chunkings() {
            for cfg in schedulers() {
                let got = cfg.compute(&predict(&xc)).unwrap();
                assert_eq!(
                    to_bits(got.iter().copied()),
                    to_bits(want.clone()),
                    "{name} on {}",
                    cfg.name()
                );
            }
        }
    };
    let as_f64 = |v: ndarray::Array1<i64>| v.iter().map(|&c| c as f64).collect::<Vec<f64>>();
    // Logistic regression, with probabilities.
    let lr: SmartLogistic<f64, i64, Array2<f64>, ndarray::Array1<i64>> =
        SmartLogistic::fit(&x, &y, LogisticRegressionParameters::default()).unwrap();
    let want = as_f64(lr.predict(&x_new).unwrap());
    let clf = ParallelPostFit::new(lr).unwrap();
    check("logistic", want.clone(), &|a| clf.predict(a).unwrap());
    let proba = clf
        .predict_proba(&chunked(&x_dyn, &[77, 423]))
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(proba.shape(), &[500, 3]);
    for (row, w) in proba.rows().into_iter().zip(&want) {
        assert!((row.sum() - 1.0).abs() < 1e-12);
        let top = (0..3).fold(0, |b, j| if row[j] > row[b] { j } else { b });
        assert_eq!(top as f64, *w);
    }
    let y_new = ndtask::from_ndarray(ndarray::Array1::from(want.clone()), [128]).unwrap();
    let acc = clf
        .score(&chunked(&x_dyn, &[250, 250]), &y_new)
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(acc, 1.0);
    // Random forest and k-means do not say their features: with_features.
    // Fitted twice: `new` takes the model, and smartcore's forest is not Clone.
    let fit_forest = || -> RandomForestClassifier<f64, i64, Array2<f64>, ndarray::Array1<i64>> {
        let params = RandomForestClassifierParameters::default().with_n_trees(10);
        RandomForestClassifier::fit(&x, &y, params).unwrap()
    };
    let rf = fit_forest();
    let want = as_f64(rf.predict(&x_new).unwrap());
    let want_forest = want.clone();
    let e = ParallelPostFit::new(rf).err().unwrap().to_string();
    assert!(e.contains("with_features"), "{e}");
    let forest = ParallelPostFit::with_features(fit_forest(), 3);
    check("random forest", want, &|a| forest.predict(a).unwrap());
    // A classifier without probabilities is still scored by accuracy by default.
    let y_new = ndtask::from_ndarray(ndarray::Array1::from(want_forest.clone()), [500]).unwrap();
    let acc = forest
        .score(&chunked(&x_dyn, &[250, 250]), &y_new)
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(acc, 1.0);
    let e = forest
        .predict_proba(&chunked(&x_dyn, &[500]))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no class probabilities"), "{e}");
    let km: SmartKMeans<f64, i64, Array2<f64>, ndarray::Array1<i64>> =
        SmartKMeans::fit(&x, KMeansParameters::default().with_k(3)).unwrap();
    let want = as_f64(km.predict(&x_new).unwrap());
    let km = ParallelPostFit::with_features(km, 3);
    check("k-means", want, &|a| km.predict(a).unwrap());
    // Linear regression: scored by r2 (the seed's scoring), which works on 1-D targets.
    let target = x.column(0).mapv(|v| 2.0 * v) + x.column(2);
    let lin: SmartLinear<f64, f64, Array2<f64>, ndarray::Array1<f64>> =
        SmartLinear::fit(&x, &target, LinearRegressionParameters::default()).unwrap();
    let want = lin.predict(&x_new).unwrap().to_vec();
    let reg = ParallelPostFit::new(lin).unwrap();
    check("linear", want, &|a| reg.predict(a).unwrap());
    let t_new = x_new.column(0).mapv(|v| 2.0 * v) + x_new.column(2);
    let t_new = ndtask::from_ndarray(t_new, [100]).unwrap();
    let r2 = reg
        .score(&chunked(&x_dyn, &[500]), &t_new)
        .unwrap()
        .compute()
        .unwrap();
    assert!((r2 - 1.0).abs() < 1e-9, "{r2}");
    // This crate's models are block models too: k-means' transform is the distance to each
    // centre.
    let xs = chunked(&x.clone().into_dyn(), &[100, 200]);
    let ours = KMeans::new(3).seed(1).fit(&xs).unwrap();
    let post = ParallelPostFit::new(ours.clone()).unwrap();
    let d = post.transform(&xs).unwrap().compute().unwrap();
    let labels = ours.predict(&xs).unwrap().compute().unwrap();
    for (row, l) in d.rows().into_iter().zip(labels.iter()) {
        let top = (0..3).fold(0, |b, j| if row[j] < row[b] { j } else { b });
        assert_eq!(top as i64, *l);
    }
}

#[test]
fn generators_and_the_split_are_the_same_for_every_chunking() {
    let gen = MakeClassification::new(2000, 5)
        .features(3, 1, 1)
        .classes(3, 2)
        .seed(4);
    let (x, y) = gen.generate(2000).unwrap();
    let (x0, y0) = ndtask::compute((&x, &y)).unwrap();
    for rows in [7, 333, 1999] {
        let (xc, yc) = gen.generate(rows).unwrap();
        for cfg in schedulers() {
            let (a, b) = cfg.compute((&xc, &yc)).unwrap();
            assert_eq!(
                to_bits(a.iter().copied()),
                to_bits(x0.iter().copied()),
                "{rows}-row chunks"
            );
            assert_eq!(to_bits(b.iter().copied()), to_bits(y0.iter().copied()));
        }
    }
    // Three classes, near a third each; a repeated feature equals another column.
    for c in 0..3 {
        let share = y0.iter().filter(|&&v| v == c as f64).count() as f64 / 2000.0;
        assert!((share - 1.0 / 3.0).abs() < 0.05, "class {c}: {share}");
    }
    let cols: Vec<Vec<u64>> = (0..5)
        .map(|j| to_bits(x0.index_axis(ndarray::Axis(1), j).iter().copied()))
        .collect();
    assert!(
        (0..5).any(|i| (0..5).any(|j| i != j && cols[i] == cols[j])),
        "no repeated feature"
    );
    // Separable enough for a linear model to learn.
    let model = LogisticRegression::new().fit(&x, &y).unwrap();
    let acc = accuracy_score(&y, &model.predict(&x).unwrap())
        .unwrap()
        .compute()
        .unwrap();
    assert!(acc > 0.5, "accuracy {acc} (chance: 1/3)");
    let (centers, bx, _) = MakeBlobs::new(500, 2)
        .centers(4)
        .seed(2)
        .generate(64)
        .unwrap();
    let (_, bx2, _) = MakeBlobs::new(500, 2)
        .centers(4)
        .seed(2)
        .generate(500)
        .unwrap();
    assert_eq!(centers.dim(), (4, 2));
    assert_eq!(bx.compute().unwrap(), bx2.compute().unwrap());
    // The split: exactly ceil(n * test_size) test rows, every row on one side, the same rows
    // for every chunking.
    let n = 1001;
    let rows = Array2::from_shape_fn((n, 2), |(i, j)| (i * 2 + j) as f64);
    let ys = ndarray::Array1::from_shape_fn(n, |i| i as f64 * 10.0);
    let mut first: Option<Vec<f64>> = None;
    for (xr, yr) in [([n, 2], [n]), ([100, 1], [7]), ([1, 2], [1000])] {
        let xa = ndtask::from_ndarray(rows.clone(), xr).unwrap();
        let ya = ndtask::from_ndarray(ys.clone(), yr).unwrap();
        for cfg in schedulers() {
            let s = train_test_split(&xa, &ya, 0.25, 9, &cfg).unwrap();
            let two = |a: ArrayD<f64>| a.into_dimensionality::<ndarray::Ix2>().unwrap();
            let (xt, xe, yt, ye) = cfg
                .compute((&s.x_train, &s.x_test, &s.y_train, &s.y_test))
                .unwrap();
            let (xt, xe) = (two(xt), two(xe));
            assert_eq!((xe.shape()[0], ye.len()), (251, 251));
            assert_eq!((xt.shape()[0], yt.len()), (750, 750));
            let mut seen: Vec<f64> = xt
                .column(0)
                .iter()
                .chain(xe.column(0).iter())
                .copied()
                .collect();
            for (row, &l) in xt
                .rows()
                .into_iter()
                .chain(xe.rows())
                .zip(yt.iter().chain(ye.iter()))
            {
                assert_eq!(row[1], row[0] + 1.0);
                assert_eq!(l, row[0] * 5.0);
            }
            seen.sort_by(f64::total_cmp);
            assert_eq!(seen, (0..n).map(|i| i as f64 * 2.0).collect::<Vec<_>>());
            let test: Vec<f64> = xe.column(0).to_vec();
            match &first {
                None => first = Some(test),
                Some(t) => assert_eq!(&test, t, "the split differs on {}", cfg.name()),
            }
        }
    }
}

#[test]
fn bad_input_to_models_is_a_clear_error() {
    let (x, y) = toy(30);
    let xa = ndtask::from_ndarray(x.clone(), [10, 3]).unwrap();
    let ya = ndtask::from_ndarray(y.mapv(|v| v as f64), [10]).unwrap();
    let model = LogisticRegression::new().fit(&xa, &ya).unwrap();
    let other = ndtask::from_ndarray(Array2::<f64>::zeros((4, 2)), [2, 2]).unwrap();
    for e in [
        model.predict(&other).unwrap_err().to_string(),
        model.predict_proba(&other).unwrap_err().to_string(),
    ] {
        assert!(e.contains("3 features") && e.contains("[4, 2]"), "{e}");
    }
    let mut nan = x.clone();
    nan[[3, 1]] = f64::NAN;
    let nan = ndtask::from_ndarray(nan, [10, 3]).unwrap();
    let e = LogisticRegression::new()
        .fit(&nan, &ya)
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 NaN or infinite"), "{e}");
    let mut bad_y = y.mapv(|v| v as f64);
    bad_y[2] = f64::NAN;
    let e = LogisticRegression::new()
        .fit(&xa, &ndtask::from_ndarray(bad_y, [30]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 NaN or infinite"), "{e}");
    let one = ndtask::from_ndarray(ndarray::Array1::from_elem(30, 2.0), [30]).unwrap();
    for e in [
        LogisticRegression::new()
            .fit(&xa, &one)
            .unwrap_err()
            .to_string(),
        LogisticRegressionCV::new()
            .fit(&xa, &one)
            .unwrap_err()
            .to_string(),
    ] {
        assert!(e.contains("one class ([2.0])"), "{e}");
    }
    let short = ndtask::from_ndarray(ndarray::Array1::from_elem(29, 1.0), [29]).unwrap();
    let e = LogisticRegression::new()
        .fit(&xa, &short)
        .unwrap_err()
        .to_string();
    assert!(e.contains("30 labels") && e.contains("[29]"), "{e}");
    let e = LinearRegression::new()
        .fit(&xa, &short)
        .unwrap_err()
        .to_string();
    assert!(e.contains("30 targets") && e.contains("[29]"), "{e}");
    let empty = ndtask::from_ndarray(Array2::<f64>::zeros((0, 3)), [1, 3]).unwrap();
    let none = ndtask::from_ndarray(ndarray::Array1::<f64>::zeros(0), [1]).unwrap();
    for e in [
        LogisticRegression::new()
            .fit(&empty, &none)
            .unwrap_err()
            .to_string(),
        LinearRegression::new()
            .fit(&empty, &none)
            .unwrap_err()
            .to_string(),
    ] {
        assert!(e.contains("empty"), "{e}");
    }
    let e = accuracy_score(&none, &none).err().unwrap().to_string();
    assert!(e.contains("no samples"), "{e}");
    for (c, what) in [(0.0, "C = [0.0]"), (f64::NAN, "C = [NaN]")] {
        let e = LogisticRegression::new()
            .c(c)
            .fit(&xa, &ya)
            .unwrap_err()
            .to_string();
        assert!(e.contains(what), "{e}");
    }
    // More folds than the members of every class.
    let few =
        ndtask::from_ndarray(ndarray::Array1::from_shape_fn(30, |i| (i % 2) as f64), [30]).unwrap();
    let e = LogisticRegressionCV::new()
        .cv(16)
        .fit(&xa, &few)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cv = 16") && e.contains("[15, 15]"), "{e}");
    let e = LogisticRegressionCV::new()
        .cv(31)
        .fit(&xa, &ya)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cv = 31") && e.contains("30 samples"), "{e}");
    let e = LogisticRegressionCV::new()
        .cv(1)
        .fit(&xa, &ya)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cv = 1"), "{e}");
    // Features of very different sizes (1e5, 0.05, 1e-10) are solved, each to its precision.
    let wide = Array2::from_shape_fn((40, 3), |(i, j)| {
        let v = ((i * 37 + j * 11) % 17) as f64 + (i as f64).sqrt();
        [1e5, 0.05, 1e-10][j] * v
    });
    let target = wide.column(0).mapv(|v| 2.0 * v)
        + wide.column(1).mapv(|v| 300.0 * v)
        + wide.column(2).mapv(|v| 4e9 * v)
        + 1.0;
    let lin = LinearRegression::new()
        .fit(
            &ndtask::from_ndarray(wide, [7, 3]).unwrap(),
            &ndtask::from_ndarray(target, [40]).unwrap(),
        )
        .unwrap();
    for (got, want) in lin
        .coef
        .iter()
        .chain([&lin.intercept])
        .zip([2.0, 300.0, 4e9, 1.0])
    {
        assert!(
            (got - want).abs() <= 1e-6 * want,
            "{:?} {}",
            lin.coef,
            lin.intercept
        );
    }
    // Collinear features have no least-squares solution of their own.
    let twice = Array2::from_shape_fn((30, 2), |(i, j)| (i as f64) * (j + 1) as f64);
    let twice = ndtask::from_ndarray(twice, [30, 2]).unwrap();
    let e = LinearRegression::new()
        .fit(&twice, &ya)
        .unwrap_err()
        .to_string();
    assert!(e.contains("linearly dependent"), "{e}");
    assert!(LinearRegression::new().alpha(1.0).fit(&twice, &ya).is_ok());
    // A label the model never saw fails the log-loss when computed, naming it.
    let proba = model.predict_proba(&xa).unwrap();
    let strange = ndtask::from_ndarray(ndarray::Array1::from_elem(30, 7.0), [30]).unwrap();
    let e = log_loss(&strange, &proba, &model.classes)
        .unwrap()
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("label 7") && e.contains("[0.0, 1.0, 2.0]"),
        "{e}"
    );
    let e = train_test_split(&xa, &ya, 1.0, 0, &Config::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("test_size = 1"), "{e}");
    let e = MakeClassification::new(10, 3)
        .features(3, 1, 0)
        .generate(5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 informative, 1 redundant"), "{e}");
}

#[test]
fn incremental_sgd_matches_scikit_learn_partial_fit_and_averaging_is_the_same_bits_everywhere() {
    let Some(py) = python(&["sklearn"]) else {
        return;
    };
    let dir = temp("sgd");
    oracle(&py, "classify", &dir);
    let blocks = [250; 4];
    let first_rows =
        |a: ArrayD<f64>, n: usize| a.slice_axis(ndarray::Axis(0), (0..n).into()).to_owned();
    // The regressor, and the hinge and log-loss classifiers, fed the same four blocks twice:
    // scikit-learn's partial_fit coefficients.
    let cases: Vec<(&str, ArrayD<f64>, ArrayD<f64>, Sgd)> = vec![
        (
            "sgd_reg",
            npy(&dir, "sgd_x"),
            npy(&dir, "lin_t"),
            Sgd::regressor(),
        ),
        (
            "sgd_two",
            npy(&dir, "two_x"),
            npy(&dir, "two_y"),
            Sgd::classifier(SgdLoss::Hinge, vec![0.0, 1.0]).unwrap(),
        ),
        (
            "sgd_three",
            first_rows(npy(&dir, "three_x"), 200),
            first_rows(npy(&dir, "three_y"), 200),
            Sgd::classifier(SgdLoss::Log, vec![0.0, 1.0, 2.0]).unwrap(),
        ),
    ];
    for (name, x, y, sgd) in cases {
        let want = npy(&dir, name);
        let inc = Incremental::new(sgd).epochs(2);
        let blocks = vec![x.shape()[0] / 4; 4];
        let xc = chunked(&x, &blocks);
        let yc = labels(&y, &blocks);
        let mut first = None;
        for cfg in schedulers() {
            let m = inc.fit(&xc, &yc, &cfg).unwrap();
            let got: Vec<f64> = m
                .coef
                .rows()
                .into_iter()
                .zip(&m.intercept)
                .flat_map(|(r, b)| r.iter().copied().chain([*b]).collect::<Vec<_>>())
                .collect();
            match &first {
                None => {
                    // The three-class log-loss fit amplifies rounding (see oracle.py).
                    let tol = if name == "sgd_three" { 1e-7 } else { 1e-9 };
                    close(&got, &want, tol, name);
                    first = Some(to_bits(got));
                }
                Some(b) => assert_eq!(&to_bits(got), b, "{name} differs on {}", cfg.name()),
            }
        }
        // Averaging: the same bits on every scheduler; a useful model.
        let mut first = None;
        for cfg in schedulers() {
            let m = inc.fit_averaged(&xc, &yc, &cfg).unwrap();
            let bits = to_bits(m.coef.iter().copied().chain(m.intercept.clone()));
            match &first {
                None => first = Some(bits),
                Some(b) => assert_eq!(&bits, b, "{name} averaged differs on {}", cfg.name()),
            }
            if name == "sgd_two" {
                let acc = accuracy_score(&yc, &m.predict(&xc).unwrap())
                    .unwrap()
                    .compute_with(&cfg)
                    .unwrap();
                assert!(acc > 0.9, "averaged SGD accuracy {acc}");
            }
        }
    }
    // Synchronous SGD, gradients averaged over every chunk at each step: the same bits on every
    // chunking (x and y chunked apart) and scheduler, and a useful model.
    let (x, y) = (npy(&dir, "two_x"), npy(&dir, "two_y"));
    let inc = Incremental::new(Sgd::classifier(SgdLoss::Log, vec![0.0, 1.0]).unwrap()).epochs(3);
    let mut first = None;
    for (xc, yc) in chunkings_1000(&x, &y) {
        for cfg in schedulers() {
            let m = inc.fit_synchronous(&xc, &yc, 20, &cfg).unwrap();
            let bits = to_bits(m.coef.iter().copied().chain(m.intercept.clone()));
            match &first {
                None => {
                    let acc = accuracy_score(&yc, &m.predict(&xc).unwrap())
                        .unwrap()
                        .compute_with(&cfg)
                        .unwrap();
                    assert!(acc > 0.9, "synchronous SGD accuracy {acc}");
                    first = Some(bits);
                }
                Some(b) => assert_eq!(&bits, b, "synchronous SGD differs on {}", cfg.name()),
            }
        }
    }
    let e = inc
        .fit_synchronous(
            &chunked(&x, &[1000]),
            &labels(&y, &[1000]),
            0,
            &Config::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("0 batches"), "{e}");
    let e = Sgd::classifier(SgdLoss::Hinge, vec![1.0, 1.0])
        .unwrap_err()
        .to_string();
    assert!(e.contains("[1.0, 1.0]"), "{e}");
    let e = Incremental::new(Sgd::classifier(SgdLoss::Log, vec![0.0, 1.0]).unwrap())
        .fit(
            &chunked(&npy(&dir, "three_x"), &blocks),
            &labels(&npy(&dir, "three_y"), &blocks),
            &Config::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("label 2 is not one of the classes [0.0, 1.0]"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
