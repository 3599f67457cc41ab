//! Chunked synthetic data (scikit-learn's `make_classification`), the same values for every
//! chunking: each row is made from its own counter-based random numbers (ndtask's Philox
//! arrays), and the few shared parameters (cluster centres, mixing matrices) from the seed.

use crate::kmeans::mix;
use crate::rows::{each_row, map_rows};
use ndarray::{s, Array2};
use ndtask_array::{concatenate, random, Array};
use ndtask_core::{Error, Result};
use std::sync::Arc;

/// A random classification problem following scikit-learn's `make_classification`: clusters of
/// normally distributed points around the vertices of a hypercube (`n_informative`
/// dimensions, sides of `2 * class_sep`), each cluster stretched by its own random matrix, then
/// redundant features (random combinations of the informative ones), repeated features,
/// features of noise, label noise (`flip_y`), a shift and a scale, and the features in a random
/// order.
///
/// Unlike scikit-learn, which deals the samples out to the clusters in exact proportions and
/// then shuffles them, each sample here draws its cluster (with the class `weights`, clusters
/// of a class equally likely), so that a row does not depend on the others; the class counts
/// are therefore close to, not exactly, the proportions.
#[derive(Debug, Clone, PartialEq)]
pub struct MakeClassification {
    n_samples: usize,
    n_features: usize,
    n_informative: usize,
    n_redundant: usize,
    n_repeated: usize,
    n_classes: usize,
    n_clusters_per_class: usize,
    weights: Option<Vec<f64>>,
    flip_y: f64,
    class_sep: f64,
    hypercube: bool,
    shift: f64,
    scale: f64,
    shuffle: bool,
    seed: u64,
}

/// A stream of uniform numbers from a seed (the shared parameters; few).
struct Stream {
    seed: u64,
    at: u64,
}

impl Stream {
    fn unit(&mut self) -> f64 {
        self.at += 1;
        (mix(self.seed ^ mix(self.at)) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A matrix of uniform values in [-1, 1).
    fn signed(&mut self, rows: usize, cols: usize) -> Array2<f64> {
        Array2::from_shape_simple_fn((rows, cols), || 2.0 * self.unit() - 1.0)
    }

    /// An index below `n`.
    fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

/// The parameters the rows share.
struct Shared {
    informative: usize,
    redundant: usize,
    repeated: Vec<usize>,
    useless: usize,
    classes: usize,
    /// Cumulative probability of each cluster.
    cumulative: Vec<f64>,
    centroids: Array2<f64>,
    /// Per cluster, its informative x informative mixing matrix.
    mixing: Vec<Array2<f64>>,
    /// informative x redundant.
    combine: Array2<f64>,
    flip_y: f64,
    shift: f64,
    scale: f64,
    /// Output column of each generated feature.
    order: Vec<usize>,
}

impl MakeClassification {
    /// `n_samples` samples of `n_features` features, with scikit-learn's defaults: 2
    /// informative, 2 redundant, 2 classes of 2 clusters, 1% label noise, `class_sep` 1, on a
    /// hypercube, no shift, scale 1, features shuffled, seed 0.
    pub fn new(n_samples: usize, n_features: usize) -> MakeClassification {
        MakeClassification {
            n_samples,
            n_features,
            n_informative: 2,
            n_redundant: 2,
            n_repeated: 0,
            n_classes: 2,
            n_clusters_per_class: 2,
            weights: None,
            flip_y: 0.01,
            class_sep: 1.0,
            hypercube: true,
            shift: 0.0,
            scale: 1.0,
            shuffle: true,
            seed: 0,
        }
    }

    /// Informative, redundant and repeated features (the rest are noise).
    pub fn features(mut self, informative: usize, redundant: usize, repeated: usize) -> Self {
        self.n_informative = informative;
        self.n_redundant = redundant;
        self.n_repeated = repeated;
        self
    }

    /// Classes, and clusters per class.
    pub fn classes(mut self, classes: usize, clusters_per_class: usize) -> Self {
        self.n_classes = classes;
        self.n_clusters_per_class = clusters_per_class;
        self
    }

    /// The weight of each class (`n_classes` values, normalised to sum to 1; or one fewer, the
    /// last taking the rest of 1).
    pub fn weights(mut self, weights: Vec<f64>) -> Self {
        self.weights = Some(weights);
        self
    }

    /// The fraction of labels drawn again at random.
    pub fn flip_y(mut self, flip_y: f64) -> Self {
        self.flip_y = flip_y;
        self
    }

    /// Half the side of the hypercube.
    pub fn class_sep(mut self, class_sep: f64) -> Self {
        self.class_sep = class_sep;
        self
    }

    /// Whether the centres are the hypercube's vertices (else random points near them).
    pub fn hypercube(mut self, hypercube: bool) -> Self {
        self.hypercube = hypercube;
        self
    }

    /// Added to, then multiplied with, every feature.
    pub fn shift_scale(mut self, shift: f64, scale: f64) -> Self {
        self.shift = shift;
        self.scale = scale;
        self
    }

    /// Whether the features come in a random order.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed (scikit-learn's `random_state`).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The samples (n_samples x n_features) and their labels (0 .. n_classes, as numbers),
    /// lazily, in chunks of `chunk_rows` rows.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for more informative, redundant and repeated features than
    /// features; no informative feature, fewer than 2 classes, no clusters, or more clusters
    /// than the hypercube has vertices; weights of the wrong number, negative, not finite or all
    /// 0 (they are normalised to sum to 1); `flip_y` outside [0, 1]; a shift, scale or
    /// separation that is not finite; a chunk of 0 rows.
    pub fn generate(&self, chunk_rows: usize) -> Result<(Array<f64>, Array<f64>)> {
        let shared = Arc::new(self.shared()?);
        let (n, f) = (self.n_samples, self.n_features);
        if chunk_rows == 0 {
            return Err(Error::InvalidArgument(
                "make_classification: chunks of 0 rows".into(),
            ));
        }
        let rng = random::default_rng(self.seed);
        let normals = shared.informative + shared.useless;
        let z = rng.standard_normal::<f64>([n, normals], [chunk_rows, normals])?;
        let u = rng.uniform::<f64>([n, 3], [chunk_rows, 3])?;
        let draws = concatenate(&[&z, &u], 1)?;
        let table = map_rows(
            &draws,
            normals + 3,
            Some(f + 1),
            "make_classification",
            move |b| {
                let rows = each_row(b, |r| shared.row(r, f));
                let m = rows.len();
                Array2::from_shape_vec((m, f + 1), rows.concat()).map_err(Error::internal)
            },
        )?;
        let x = table.slice(s![.., 0..f])?;
        let y = table.slice(s![.., f])?;
        Ok((x, y))
    }

    fn shared(&self) -> Result<Shared> {
        let (d, f) = (self.n_informative, self.n_features);
        let used = d
            .checked_add(self.n_redundant)
            .and_then(|v| v.checked_add(self.n_repeated));
        let clusters = self.n_classes.checked_mul(self.n_clusters_per_class);
        let vertices_ok =
            d >= usize::BITS as usize - 1 || clusters.is_some_and(|c| c <= 1usize << d);
        if used.is_none_or(|u| u > f)
            || d == 0
            || self.n_classes < 2
            || clusters.is_none_or(|c| c == 0)
            || !vertices_ok
        {
            return Err(Error::InvalidArgument(format!(
                "make_classification: {} informative, {} redundant and {} repeated of {f} features, \
                 {} classes of {} clusters: the three must fit in the features, at least one \
                 informative, at least 2 classes and 1 cluster each, and no more clusters than \
                 2^informative",
                d, self.n_redundant, self.n_repeated, self.n_classes, self.n_clusters_per_class
            )));
        }
        let k = clusters.unwrap_or(0);
        if !(0.0..=1.0).contains(&self.flip_y)
            || !self.class_sep.is_finite()
            || !self.shift.is_finite()
            || !self.scale.is_finite()
        {
            return Err(Error::InvalidArgument(format!(
                "make_classification: flip_y = {} must be in [0, 1]; class_sep = {}, shift = {}, scale = {} finite",
                self.flip_y, self.class_sep, self.shift, self.scale
            )));
        }
        let c = self.n_classes;
        let mut weights = match &self.weights {
            None => vec![1.0 / c as f64; c],
            Some(w) if w.len() == c || w.len() + 1 == c => w.clone(),
            Some(w) => {
                return Err(Error::InvalidArgument(format!(
                    "make_classification: {} weights for {c} classes; give {c} or {}",
                    w.len(),
                    c - 1
                )))
            }
        };
        if weights.len() + 1 == c {
            let rest = 1.0 - weights.iter().sum::<f64>();
            weights.push(rest);
        }
        let total: f64 = weights.iter().sum();
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || total <= 0.0 {
            return Err(Error::InvalidArgument(format!(
                "make_classification: the class weights {weights:?} must be at least 0 and not all 0"
            )));
        }
        let mut cumulative = Vec::with_capacity(k);
        let mut acc = 0.0;
        for j in 0..k {
            acc += weights[j % c] / total / self.n_clusters_per_class as f64;
            cumulative.push(acc);
        }
        let mut rng = Stream {
            seed: self.seed,
            at: 0,
        };
        // Distinct vertices of the hypercube.
        let mut vertices: Vec<Vec<bool>> = Vec::with_capacity(k);
        let mut seen = std::collections::HashSet::new();
        while vertices.len() < k {
            let v: Vec<bool> = (0..d).map(|_| rng.unit() < 0.5).collect();
            if seen.insert(v.clone()) {
                vertices.push(v);
            }
        }
        let sep = self.class_sep;
        let mut centroids =
            Array2::from_shape_fn((k, d), |(i, j)| if vertices[i][j] { sep } else { -sep });
        if !self.hypercube {
            for mut row in centroids.rows_mut() {
                let a = 2.0 * rng.unit();
                row.mapv_inplace(|v| v * a);
            }
            for mut col in centroids.columns_mut() {
                let a = rng.unit();
                col.mapv_inplace(|v| v * a);
            }
        }
        let mixing = (0..k).map(|_| rng.signed(d, d)).collect();
        let combine = rng.signed(d, self.n_redundant);
        let repeated = (0..self.n_repeated)
            .map(|_| rng.below(d + self.n_redundant))
            .collect();
        let mut order: Vec<usize> = (0..f).collect();
        if self.shuffle {
            for i in (1..f).rev() {
                order.swap(i, rng.below(i + 1));
            }
        }
        Ok(Shared {
            informative: d,
            redundant: self.n_redundant,
            repeated,
            useless: f - used.unwrap_or(f),
            classes: c,
            cumulative,
            centroids,
            mixing,
            combine,
            flip_y: self.flip_y,
            shift: self.shift,
            scale: self.scale,
            order,
        })
    }
}

impl Shared {
    /// One sample from its draws: `informative + useless` normals then three uniforms (the
    /// cluster, whether the label flips, the flipped label). The features, then the label.
    fn row(&self, r: &[f64], f: usize) -> Vec<f64> {
        let d = self.informative;
        let normals = d + self.useless;
        let (u_cluster, u_flip, u_label) = (r[normals], r[normals + 1], r[normals + 2]);
        let k = self
            .cumulative
            .iter()
            .position(|&c| u_cluster < c)
            .unwrap_or(self.cumulative.len() - 1);
        let mut made = Vec::with_capacity(f);
        let a = &self.mixing[k];
        for j in 0..d {
            let v: f64 = (0..d).map(|i| r[i] * a[[i, j]]).sum();
            made.push(v + self.centroids[[k, j]]);
        }
        for j in 0..self.redundant {
            let v: f64 = (0..d).map(|i| made[i] * self.combine[[i, j]]).sum();
            made.push(v);
        }
        for &i in &self.repeated {
            made.push(made[i]);
        }
        made.extend_from_slice(&r[d..normals]);
        let mut out = vec![0.0; f + 1];
        for (j, v) in made.into_iter().enumerate() {
            out[self.order[j]] = (v + self.shift) * self.scale;
        }
        let mut label = k % self.classes;
        if u_flip < self.flip_y {
            label = ((u_label * self.classes as f64) as usize).min(self.classes - 1);
        }
        out[f] = label as f64;
        out
    }
}

/// Isotropic Gaussian blobs (scikit-learn's `make_blobs`): `centers` centres drawn uniformly in
/// `center_box`, each sample one of them (equally likely, drawn per sample) plus normal noise
/// of standard deviation `cluster_std`; the same values for every chunking.
#[derive(Debug, Clone, PartialEq)]
pub struct MakeBlobs {
    n_samples: usize,
    n_features: usize,
    centers: usize,
    cluster_std: f64,
    center_box: (f64, f64),
    seed: u64,
}

impl MakeBlobs {
    /// `n_samples` samples of `n_features` features around 3 centres in [-10, 10], standard
    /// deviation 1, seed 0 (scikit-learn's defaults).
    pub fn new(n_samples: usize, n_features: usize) -> MakeBlobs {
        MakeBlobs {
            n_samples,
            n_features,
            centers: 3,
            cluster_std: 1.0,
            center_box: (-10.0, 10.0),
            seed: 0,
        }
    }

    /// The number of centres.
    pub fn centers(mut self, k: usize) -> Self {
        self.centers = k;
        self
    }

    /// The standard deviation around each centre.
    pub fn cluster_std(mut self, std: f64) -> Self {
        self.cluster_std = std;
        self
    }

    /// The seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The centres (centers x n_features), the samples and their centre's index (as numbers),
    /// lazily, in chunks of `chunk_rows` rows.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for no centres or features, a standard deviation that is
    /// negative or not finite, or chunks of 0 rows.
    pub fn generate(&self, chunk_rows: usize) -> Result<(Array2<f64>, Array<f64>, Array<f64>)> {
        let (n, f, k) = (self.n_samples, self.n_features, self.centers);
        if k == 0
            || f == 0
            || chunk_rows == 0
            || !self.cluster_std.is_finite()
            || self.cluster_std < 0.0
        {
            return Err(Error::InvalidArgument(format!(
                "make_blobs: {k} centres of {f} features, standard deviation {}, chunks of {chunk_rows} rows: \
                 each must be at least 1 (the deviation at least 0 and finite)",
                self.cluster_std
            )));
        }
        let mut rng = Stream {
            seed: self.seed,
            at: 0,
        };
        let (lo, hi) = self.center_box;
        let centers = Array2::from_shape_simple_fn((k, f), || lo + (hi - lo) * rng.unit());
        let gen = random::default_rng(self.seed);
        let z = gen.standard_normal::<f64>([n, f], [chunk_rows, f])?;
        let u = gen.uniform::<f64>([n, 1], [chunk_rows, 1])?;
        let c = Arc::new(centers.clone());
        let std = self.cluster_std;
        let table = map_rows(
            &concatenate(&[&z, &u], 1)?,
            f + 1,
            Some(f + 1),
            "make_blobs",
            move |b| {
                let rows = each_row(b, |r| {
                    let j = ((r[f] * k as f64) as usize).min(k - 1);
                    let mut out: Vec<f64> = (0..f).map(|i| c[[j, i]] + std * r[i]).collect();
                    out.push(j as f64);
                    out
                });
                let m = rows.len();
                Array2::from_shape_vec((m, f + 1), rows.concat()).map_err(Error::internal)
            },
        )?;
        Ok((centers, table.slice(s![.., 0..f])?, table.slice(s![.., f])?))
    }
}
