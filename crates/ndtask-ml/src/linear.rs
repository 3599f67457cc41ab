//! Least-squares linear regression fitted on chunked data (scikit-learn's and Dask-ML's
//! `LinearRegression`): the normal equations `[X 1]^T [X 1] w = [X 1]^T y`, their sums one pass
//! over the row chunks, exact in fixed point, so the coefficients are the same bits for every
//! chunking, scheduler and rank count; the small system solved in memory (with an optional
//! ridge penalty).

use crate::exact::{split, Scale};
use crate::postfit::{BlockModel, ParallelPostFit};
use crate::rows::{each_row, totals, RowChunks};
use ndarray::{Array1, ArrayView2};
use ndtask_array::{Array, Config};
use ndtask_core::{Error, Result};

/// Linear regression by least squares, optionally with an L2 penalty `alpha` on the
/// coefficients (scikit-learn's `Ridge`; 0, the default, is `LinearRegression`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinearRegression {
    alpha: f64,
}

/// A fitted linear regression.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    /// One coefficient per feature.
    pub coef: Vec<f64>,
    /// The intercept.
    pub intercept: f64,
}

impl LinearRegression {
    /// Least squares with an intercept and no penalty.
    pub fn new() -> LinearRegression {
        LinearRegression { alpha: 0.0 }
    }

    /// The L2 penalty on the coefficients (not the intercept).
    pub fn alpha(mut self, alpha: f64) -> LinearRegression {
        self.alpha = alpha;
        self
    }

    /// Fits on `x` (samples x features) and the targets `y`.
    ///
    /// # Errors
    /// As [`LinearRegression::fit_with`].
    pub fn fit(&self, x: &Array<f64>, y: &Array<f64>) -> Result<LinearModel> {
        self.fit_with(x, y, &Config::default())
    }

    /// Fits on `x` and `y`, the sums in one pass computed under `config` (after one pass for
    /// the largest magnitudes).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for data that are not 2-D, empty, or hold NaN or
    /// infinities; targets of another length; a negative or non-finite `alpha`; features
    /// that are linear combinations of each other (and no penalty). The computation's error.
    pub fn fit_with(&self, x: &Array<f64>, y: &Array<f64>, config: &Config) -> Result<LinearModel> {
        if !self.alpha.is_finite() || self.alpha < 0.0 {
            return Err(Error::InvalidArgument(format!(
                "LinearRegression: alpha = {} must be at least 0 and finite",
                self.alpha
            )));
        }
        let (s, table) = crate::joined("LinearRegression", "targets", x, y, false)?;
        let (n, f) = (s.rows, s.features);
        let top = crate::largest_magnitudes(&table, s, config)?;
        // The unknowns: the coefficients then the intercept (a column of ones). Each sum has
        // its own fixed point, from its terms' bound: features of very different sizes keep
        // their precision.
        let p = f + 1;
        // The largest magnitude of each column: the features, the intercept's ones, the target.
        let mut size: Vec<f64> = top[..f].to_vec();
        size.extend([1.0, top[f]]);
        let scales = (0..p)
            .flat_map(|i| (0..=p).map(move |j| (i, j)))
            .map(|(i, j)| {
                let bound = size[i] * size[j];
                if !bound.is_finite() {
                    return Err(Error::InvalidArgument(format!(
                        "LinearRegression: values up to {:e} and {:e}: their products overflow float64 (scale the data first)",
                        size[i], size[j]
                    )));
                }
                Scale::for_values(bound)
            })
            .collect::<Result<Vec<Scale>>>()?;
        let scales = std::sync::Arc::new(scales);
        let sc = scales.clone();
        let rows = RowChunks::new(&table)?;
        // Sums (i, j) for j in i..=p, row i of the upper triangle then the target's column.
        let parts = rows.pass(2 * p * (p + 1), config, move |chunk| {
            let mut sums = vec![0i128; p * (p + 1)];
            let mut z = vec![1.0; p + 1];
            for r in chunk {
                z[..f].copy_from_slice(&r[..f]);
                z[p] = r[f];
                for i in 0..p {
                    for j in i..=p {
                        let k = i * (p + 1) + j;
                        sums[k] += i128::from(sc[k].fix(z[i] * z[j]));
                    }
                }
            }
            sums.into_iter().flat_map(split).collect()
        })?;
        let sums = totals(&parts, p * (p + 1));
        let at = |i: usize, j: usize| scales[i * (p + 1) + j].float(sums[i * (p + 1) + j]);
        let mut a = vec![0.0; p * p];
        for i in 0..p {
            for j in i..p {
                let v = at(i, j);
                a[i * p + j] = v;
                a[j * p + i] = v;
            }
            if i < f {
                a[i * p + i] += self.alpha;
            }
        }
        let b: Vec<f64> = (0..p).map(|i| at(i, p)).collect();
        let w = solve(a, b, p).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "LinearRegression: the {f} features (and the intercept) are linearly dependent on these {n} samples \
                 (or a feature is all zeros); drop a feature or give a penalty (alpha)"
            ))
        })?;
        Ok(LinearModel {
            coef: w[..f].to_vec(),
            intercept: w[f],
        })
    }
}

/// Solves the symmetric system `a w = b` (`p` x `p`, row-major, its diagonal the sums of
/// squares) by Gaussian elimination with partial pivoting, after scaling rows and columns to a
/// unit diagonal (so the test for a singular pivot does not depend on the features' sizes);
/// `None` when it is singular to rounding.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, p: usize) -> Option<Vec<f64>> {
    let d: Vec<f64> = (0..p).map(|i| a[i * p + i].sqrt()).collect();
    if d.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return None;
    }
    for i in 0..p {
        for j in 0..p {
            a[i * p + j] /= d[i] * d[j];
        }
        b[i] /= d[i];
    }
    for col in 0..p {
        let pivot =
            (col..p).max_by(|&i, &j| a[i * p + col].abs().total_cmp(&a[j * p + col].abs()))?;
        if a[pivot * p + col].abs() <= 1e-12 {
            return None;
        }
        if pivot != col {
            for k in 0..p {
                a.swap(col * p + k, pivot * p + k);
            }
            b.swap(col, pivot);
        }
        for row in col + 1..p {
            let factor = a[row * p + col] / a[col * p + col];
            for k in col..p {
                a[row * p + k] -= factor * a[col * p + k];
            }
            b[row] -= factor * b[col];
        }
    }
    let mut w = vec![0.0; p];
    for row in (0..p).rev() {
        let rest: f64 = (row + 1..p).map(|k| a[row * p + k] * w[k]).sum();
        w[row] = (b[row] - rest) / a[row * p + row];
    }
    Some(w.iter().zip(&d).map(|(w, d)| w / d).collect())
}

impl LinearModel {
    /// The predictions for each sample, lazily (one task per row chunk).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `x` is not 2-D with the model's number of features.
    pub fn predict(&self, x: &Array<f64>) -> Result<Array<f64>> {
        ParallelPostFit::new(self.clone())?.predict(x)
    }
}

impl BlockModel for LinearModel {
    fn name(&self) -> String {
        "LinearRegression".into()
    }
    fn features(&self) -> Option<usize> {
        Some(self.coef.len())
    }
    fn predict_block(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        let (w, b) = (&self.coef, self.intercept);
        Ok(Array1::from(each_row(x, |r| {
            b + r.iter().zip(w).map(|(x, w)| x * w).sum::<f64>()
        })))
    }
}
