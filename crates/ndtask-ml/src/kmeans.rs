//! k-means on chunked data (Dask-ML's `KMeans`): k-means|| initialisation (Bahmani et al.) and
//! Lloyd iterations, each pass one task per row chunk whose partial sums come back to the
//! caller. The sums are exact in fixed point and every random choice is a hash of the row's
//! values, so the result does not depend on the chunking, the scheduler or the rank count.

use crate::exact::{split, Scale};
use crate::postfit::BlockModel;
use crate::rows::{each_row, map_rows, totals, RowChunks};
use crate::{check_fit, Samples};
use ndarray::{Array1, Array2, ArrayView2};
use ndtask_array::{Array, Config, ReduceOptions};
use ndtask_core::{Error, Result};
use std::sync::Arc;

/// How the first centres are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum KMeansInit {
    /// k-means|| (the default): a few rounds that each sample rows with probability
    /// proportional to their squared distance from the centres so far, then weighted
    /// k-means++ and Lloyd on those candidates.
    KMeansParallel,
    /// These centres (k rows of the features).
    Given(Array2<f64>),
}

/// k-means clustering (scikit-learn's and Dask-ML's `KMeans`): a builder of its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    k: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    init: KMeansInit,
    oversampling: f64,
    rounds: usize,
}

/// A fitted k-means model.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansModel {
    /// The centres, k x features.
    pub centers: Array2<f64>,
    /// The sum of squared distances of the samples to their nearest centre.
    pub inertia: f64,
    /// Lloyd iterations run.
    pub n_iter: usize,
    /// Whether the centres moved less than the tolerance before `max_iter`.
    pub converged: bool,
}

/// `splitmix64`'s mixer.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of a row's values for `seed` and `round`: the row's own random number, the same
/// wherever the row is.
fn row_hash<'a>(seed: u64, round: u64, row: impl Iterator<Item = &'a f64>) -> u64 {
    let mut h = mix(seed ^ mix(round));
    for v in row {
        h = mix(h ^ v.to_bits());
    }
    h
}

fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The nearest of `centers` (k rows of `f`) to `row`, and the squared distance; ties go to the
/// first. Each distance adds the features in order; four centres at a time, for the
/// processor's sake (the same sums as one at a time).
#[inline]
fn nearest(row: &[f64], centers: &[f64], f: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    let mut take = |j: usize, d: f64| {
        if d < best.1 {
            best = (j, d);
        }
    };
    let four = centers.chunks_exact(4 * f);
    let rest = four.remainder();
    let mut j = 0;
    for c in four {
        let (c0, c1, c2, c3) = (&c[..f], &c[f..2 * f], &c[2 * f..3 * f], &c[3 * f..]);
        let mut d = [0.0f64; 4];
        for (i, &x) in row.iter().enumerate() {
            d[0] += (x - c0[i]) * (x - c0[i]);
            d[1] += (x - c1[i]) * (x - c1[i]);
            d[2] += (x - c2[i]) * (x - c2[i]);
            d[3] += (x - c3[i]) * (x - c3[i]);
        }
        for (t, &v) in d.iter().enumerate() {
            take(j + t, v);
        }
        j += 4;
    }
    for c in rest.chunks_exact(f) {
        let d: f64 = row.iter().zip(c).map(|(x, c)| (x - c) * (x - c)).sum();
        take(j, d);
        j += 1;
    }
    best
}

/// The data in chunks of whole rows, and the fixed point of the passes over it.
struct Data {
    rows: RowChunks,
    /// Fixed point for sums of the values and of squared distances.
    values: Scale,
    distances: Scale,
}

impl Data {
    /// The sum over rows of the squared distance to the nearest of `centers`.
    fn cost(&self, centers: &Arc<Vec<f64>>, config: &Config) -> Result<i128> {
        let (c, f, s) = (centers.clone(), self.rows.f, self.distances);
        let parts = self.rows.pass(2, config, move |chunk| {
            let total: i128 = chunk.map(|r| i128::from(s.fix(nearest(r, &c, f).1))).sum();
            split(total).to_vec()
        })?;
        Ok(totals(&parts, 1)[0])
    }

    /// One Lloyd step: per centre the exact sum of its rows and their count.
    fn step(&self, centers: &Arc<Vec<f64>>, config: &Config) -> Result<(Vec<i128>, Vec<i64>)> {
        let k = centers.len() / self.rows.f;
        let (c, f, sv) = (centers.clone(), self.rows.f, self.values);
        let n = k * f;
        let parts = self.rows.pass(2 * n + k, config, move |chunk| {
            let mut sums = vec![0i128; n];
            let mut counts = vec![0i64; k];
            for r in chunk {
                let j = nearest(r, &c, f).0;
                for (s, &v) in sums[j * f..(j + 1) * f].iter_mut().zip(r.iter()) {
                    *s += i128::from(sv.fix(v));
                }
                counts[j] += 1;
            }
            let mut out: Vec<i64> = sums.into_iter().flat_map(split).collect();
            out.extend(counts);
            out
        })?;
        let mut counts = vec![0i64; k];
        for row in parts.rows() {
            for (j, c) in counts.iter_mut().enumerate() {
                *c += row[2 * n + j];
            }
        }
        Ok((totals(&parts, n), counts))
    }
}

impl KMeans {
    /// k clusters; max_iter 300, tolerance 1e-4 (relative to the mean variance of the
    /// features, as scikit-learn's), seed 0, k-means|| with oversampling 2 and 2 rounds (as Spark's).
    pub fn new(k: usize) -> KMeans {
        KMeans {
            k,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            init: KMeansInit::KMeansParallel,
            oversampling: 2.0,
            rounds: 2,
        }
    }

    /// The seed of the initialisation.
    pub fn seed(mut self, seed: u64) -> KMeans {
        self.seed = seed;
        self
    }

    /// The most Lloyd iterations.
    pub fn max_iter(mut self, n: usize) -> KMeans {
        self.max_iter = n;
        self
    }

    /// The tolerance on the squared movement of the centres, relative to the mean variance of
    /// the features.
    pub fn tol(mut self, tol: f64) -> KMeans {
        self.tol = tol;
        self
    }

    /// How the first centres are chosen.
    pub fn init(mut self, init: KMeansInit) -> KMeans {
        self.init = init;
        self
    }

    /// k-means||: rows sampled per round, as a multiple of k (default 2), and rounds (default 2, as Spark's `initializationSteps`).
    pub fn kmeans_parallel(mut self, oversampling: f64, rounds: usize) -> KMeans {
        self.oversampling = oversampling;
        self.rounds = rounds;
        self
    }

    /// Fits on `x` (samples x features) on the default configuration.
    ///
    /// # Errors
    /// As [`KMeans::fit_with`].
    pub fn fit(&self, x: &Array<f64>) -> Result<KMeansModel> {
        self.fit_with(x, &Config::default())
    }

    /// Fits on `x` (samples x features), each pass computed under `config` (one task per row
    /// chunk; `x` is read once per pass: persist it first if it is expensive to make).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for data that are not 2-D, empty, or hold NaN or infinities;
    /// k of 0 or larger than the number of samples; given centres of another shape; a
    /// tolerance or oversampling that is negative or not a number. The computation's error.
    pub fn fit_with(&self, x: &Array<f64>, config: &Config) -> Result<KMeansModel> {
        let s = Samples::of(x)?;
        let k = self.k;
        if k == 0 || k > s.rows {
            return Err(Error::InvalidArgument(format!(
                "KMeans: k = {k} clusters for {} samples: k must be between 1 and the number of samples",
                s.rows
            )));
        }
        if self.tol.is_nan()
            || self.tol < 0.0
            || !self.oversampling.is_finite()
            || self.oversampling <= 0.0
            || self.rounds == 0
        {
            return Err(Error::InvalidArgument(format!(
                "KMeans: the tolerance {} must be at least 0, the oversampling {} finite and above 0, \
                 and k-means|| needs at least one round (got {})",
                self.tol, self.oversampling, self.rounds
            )));
        }
        if let KMeansInit::Given(c) = &self.init {
            if c.dim() != (k, s.features) || c.iter().any(|v| !v.is_finite()) {
                return Err(Error::InvalidArgument(format!(
                    "KMeans: the initial centres have shape {:?}; k = {k} clusters of {} features need {:?}, finite",
                    c.dim(),
                    s.features,
                    (k, s.features)
                )));
            }
        }
        let rows = RowChunks::new(x)?;
        let x = &rows.x;
        let axis0 = ReduceOptions::axes([0]);
        let abs = x.map(f64::abs);
        let (max_abs, var, bad) =
            config.compute((&abs.nanmax(), &x.var_with(&axis0, 0.0)?, &check_fit(x)))?;
        s.finite(bad)?;
        let f = s.features;
        // Given centres may lie outside the data; the distances are bounded from both.
        let max_abs = match &self.init {
            KMeansInit::Given(c) => c.iter().fold(max_abs, |m, v| m.max(v.abs())),
            KMeansInit::KMeansParallel => max_abs,
        };
        let bound = f as f64 * 4.0 * max_abs * max_abs;
        if !(bound * s.rows as f64).is_finite() {
            return Err(Error::InvalidArgument(format!(
                "KMeans: the data hold values up to {max_abs:e} in magnitude: sums of squared distances \
                 over {} samples of {f} features would overflow float64 (scale the data first)",
                s.rows
            )));
        }
        let data = Data {
            rows,
            values: Scale::for_values(max_abs)?,
            distances: Scale::for_values(bound)?,
        };
        let mean_var = var.iter().sum::<f64>() / f as f64;
        let tol = self.tol * mean_var;
        let mut centers: Vec<f64> = match &self.init {
            KMeansInit::Given(c) => c.iter().copied().collect(),
            KMeansInit::KMeansParallel => self.kmeans_parallel_init(&data, config)?,
        };
        let (mut n_iter, mut converged) = (0, false);
        while n_iter < self.max_iter {
            let (sums, counts) = data.step(&Arc::new(centers.clone()), config)?;
            n_iter += 1;
            let mut shift = 0.0;
            for j in 0..k {
                if counts[j] == 0 {
                    // An empty cluster keeps its centre.
                    continue;
                }
                for c in 0..f {
                    let new = data.values.float(sums[j * f + c]) / counts[j] as f64;
                    shift += (new - centers[j * f + c]) * (new - centers[j * f + c]);
                    centers[j * f + c] = new;
                }
            }
            if shift <= tol {
                converged = true;
                break;
            }
        }
        // The inertia of the final centres (as scikit-learn's last assignment).
        let inertia = data
            .distances
            .float(data.cost(&Arc::new(centers.clone()), config)?);
        let centers = Array2::from_shape_vec((k, f), centers).map_err(Error::internal)?;
        Ok(KMeansModel {
            centers,
            inertia,
            n_iter,
            converged,
        })
    }

    /// k-means||: candidates sampled in rounds, weighted by the rows nearest each, reduced to
    /// k centres by weighted k-means++ and Lloyd.
    fn kmeans_parallel_init(&self, data: &Data, config: &Config) -> Result<Vec<f64>> {
        let (f, seed) = (data.rows.f, self.seed);
        // The first centre: the row with the smallest hash.
        let first = data.rows.pass(f + 2, config, move |chunk| {
            let mut best: Option<(u64, Vec<f64>)> = None;
            for r in chunk {
                let h = row_hash(seed, 0, r.iter());
                if best.as_ref().is_none_or(|(b, _)| h < *b) {
                    best = Some((h, r.to_vec()));
                }
            }
            let (h, row) = best.unwrap_or((u64::MAX, vec![0.0; f]));
            let mut out = vec![(h >> 32) as f64, (h & 0xFFFF_FFFF) as f64];
            out.extend(row);
            out
        })?;
        let pick = first
            .rows()
            .into_iter()
            .min_by(|a, b| {
                (a[0], a[1])
                    .partial_cmp(&(b[0], b[1]))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .map(|r| r.iter().skip(2).copied().collect::<Vec<f64>>())
            .unwrap_or_default();
        let mut cand: Vec<f64> = pick;
        let l = self.oversampling * self.k as f64;
        for round in 1..=self.rounds as u64 {
            let phi = data
                .distances
                .float(data.cost(&Arc::new(cand.clone()), config)?);
            if phi <= 0.0 {
                break;
            }
            let c = Arc::new(cand.clone());
            let chosen = move |r: &[f64], c: &[f64]| {
                let d = nearest(r, c, f).1;
                unit(row_hash(seed, round, r.iter())) < (l * d / phi).min(1.0)
            };
            // One pass returns each chunk's count and its chosen rows, room for `most` of
            // them (about four times what a chunk can expect); a chunk that chose more is
            // gathered again with room for all (the same rows, in the same order).
            let gather = |most: usize, c: Arc<Vec<f64>>| {
                data.rows.pass(1 + most * f, config, move |chunk| {
                    let mut out = vec![f64::NAN; 1 + most * f];
                    let mut n = 0;
                    for r in chunk {
                        if chosen(r, &c) {
                            if n < most {
                                out[1 + n * f..1 + (n + 1) * f].copy_from_slice(r);
                            }
                            n += 1;
                        }
                    }
                    out[0] = n as f64;
                    out
                })
            };
            // No more than a chunk's rows (the largest chunk's).
            let room =
                (4 * (l.ceil() as usize).div_ceil(data.rows.chunks).max(1)).min(data.rows.longest);
            let mut got = gather(room, c.clone())?;
            let most = got
                .rows()
                .into_iter()
                .map(|r| r[0] as usize)
                .max()
                .unwrap_or(0);
            if most > room {
                got = gather(most, c)?;
            }
            for row in got.rows() {
                let n = row[0] as usize;
                cand.extend(row.iter().skip(1).take(n * f));
            }
        }
        // The weight of each candidate: how many rows are nearest to it.
        let m = cand.len() / f;
        let c = Arc::new(cand.clone());
        let w = data.rows.pass(m, config, move |chunk| {
            let mut w = vec![0i64; m];
            for r in chunk {
                w[nearest(r, &c, f).0] += 1;
            }
            w
        })?;
        let mut weights = vec![0f64; m];
        for row in w.rows() {
            for (t, &v) in weights.iter_mut().zip(row.iter()) {
                *t += v as f64;
            }
        }
        Ok(weighted_kmeans(
            &cand,
            &weights,
            f,
            self.k,
            self.seed,
            self.max_iter,
        ))
    }
}

/// The best of ten runs of greedy weighted k-means++ (each new centre the best of
/// `2 + ln k` draws, as scikit-learn's) then weighted Lloyd, on a few weighted points in memory,
/// in a fixed order: the least weighted inertia wins (the first among equals).
fn weighted_kmeans(
    points: &[f64],
    w: &[f64],
    f: usize,
    k: usize,
    seed: u64,
    max_iter: usize,
) -> Vec<f64> {
    let m = w.len();
    let mut draws = 0u64;
    let mut draw = || {
        draws += 1;
        unit(mix(seed ^ mix(0xC0FF_EE00 ^ draws)))
    };
    let pick = |scores: &[f64], u: f64| -> usize {
        let total: f64 = scores.iter().sum();
        let mut acc = 0.0;
        for (i, s) in scores.iter().enumerate() {
            acc += s;
            if acc >= u * total {
                return i;
            }
        }
        scores.len() - 1
    };
    let point = |i: usize| &points[i * f..(i + 1) * f];
    let potential =
        |centers: &[f64]| -> f64 { (0..m).map(|i| w[i] * nearest(point(i), centers, f).1).sum() };
    let trials = 2 + (k as f64).ln() as usize;
    let mut best: Option<(f64, Vec<f64>)> = None;
    for _ in 0..10 {
        let mut centers: Vec<f64> = Vec::with_capacity(k * f);
        let first = pick(w, draw());
        centers.extend_from_slice(point(first));
        while centers.len() < k * f {
            let scores: Vec<f64> = (0..m)
                .map(|i| w[i] * nearest(point(i), &centers, f).1)
                .collect();
            let i = if scores.iter().sum::<f64>() > 0.0 {
                let mut chosen: Option<(usize, f64)> = None;
                for _ in 0..trials {
                    let c = pick(&scores, draw());
                    let mut with = centers.clone();
                    with.extend_from_slice(point(c));
                    let p = potential(&with);
                    // The first draw stands until a later one is better (NaN never is).
                    if chosen.is_none_or(|(_, q)| p < q) {
                        chosen = Some((c, p));
                    }
                }
                chosen.map_or(0, |(c, _)| c)
            } else {
                // Fewer distinct candidates than k: repeat one.
                (centers.len() / f) % m
            };
            centers.extend_from_slice(point(i));
        }
        for _ in 0..max_iter {
            let mut sums = vec![0f64; k * f];
            let mut tot = vec![0f64; k];
            for (i, &wi) in w.iter().enumerate() {
                let j = nearest(point(i), &centers, f).0;
                for (s, &v) in sums[j * f..(j + 1) * f].iter_mut().zip(point(i)) {
                    *s += wi * v;
                }
                tot[j] += wi;
            }
            let mut moved = false;
            for j in 0..k {
                if tot[j] > 0.0 {
                    for c in 0..f {
                        let new = sums[j * f + c] / tot[j];
                        moved |= new != centers[j * f + c];
                        centers[j * f + c] = new;
                    }
                }
            }
            if !moved {
                break;
            }
        }
        let p = potential(&centers);
        if best.as_ref().is_none_or(|(b, _)| p < *b) {
            best = Some((p, centers));
        }
    }
    best.map(|(_, c)| c).unwrap_or_default()
}

impl KMeansModel {
    /// The nearest centre of each sample, lazily (one task per row chunk).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `x` is not 2-D with the model's number of features.
    pub fn predict(&self, x: &Array<f64>) -> Result<Array<i64>> {
        let f = self.centers.ncols();
        let c: Arc<Vec<f64>> = Arc::new(self.centers.iter().copied().collect());
        map_rows(x, f, None, "KMeans", move |block| {
            let labels = each_row(block, |r| nearest(r, &c, f).0 as i64);
            let n = labels.len();
            Array2::from_shape_vec((n, 1), labels).map_err(Error::internal)
        })
    }
}

impl BlockModel for KMeansModel {
    fn name(&self) -> String {
        "KMeans".into()
    }
    fn features(&self) -> Option<usize> {
        Some(self.centers.ncols())
    }
    fn predict_block(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        let (f, c) = (self.centers.ncols(), self.centers.as_slice());
        let c = c.map_or_else(|| self.centers.iter().copied().collect(), <[f64]>::to_vec);
        Ok(Array1::from(each_row(x, |r| nearest(r, &c, f).0 as f64)))
    }
    fn transform_width(&self) -> Option<usize> {
        Some(self.centers.nrows())
    }
    /// The Euclidean distance of each row to each centre (scikit-learn's `KMeans.transform`).
    fn transform_block(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let k = self.centers.nrows();
        let rows = each_row(x, |r| {
            self.centers
                .rows()
                .into_iter()
                .map(|c| {
                    c.iter()
                        .zip(r)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                        .sqrt()
                })
                .collect::<Vec<f64>>()
        });
        let n = rows.len();
        Array2::from_shape_vec((n, k), rows.concat()).map_err(Error::internal)
    }
}
