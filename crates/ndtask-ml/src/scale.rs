//! Feature scaling fitted on chunked data (scikit-learn's and Dask-ML's `StandardScaler` and
//! `MinMaxScaler`): the statistics of every column in one pass of lazy reductions, the
//! transform lazy.

use crate::{check_fit, columns, Samples};
use ndtask_array::{Array, Config, ReduceOptions};
use ndtask_core::{Error, Result};

/// Removes each feature's mean and divides by its standard deviation (population, `ddof` 0),
/// as scikit-learn's `StandardScaler`; a constant feature (a variance no more than rounding
/// makes of one value) is divided by 1.
#[derive(Debug, Clone, PartialEq)]
pub struct StandardScaler {
    /// The mean of each feature.
    pub mean: Vec<f64>,
    /// The variance of each feature.
    pub var: Vec<f64>,
    /// What each feature is divided by: its standard deviation, or 1 for a constant feature.
    pub scale: Vec<f64>,
    /// The number of samples seen.
    pub n_samples: usize,
}

impl StandardScaler {
    /// Fits on `x` (samples x features) on the default configuration.
    ///
    /// # Errors
    /// As [`StandardScaler::fit_with`].
    pub fn fit(x: &Array<f64>) -> Result<StandardScaler> {
        Self::fit_with(x, &Config::default())
    }

    /// Fits on `x` (samples x features), computed under `config`: the means and variances in
    /// one compute.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an array that is not 2-D, has no samples or no
    /// features, or holds NaN or infinities (naming how many); the computation's error.
    pub fn fit_with(x: &Array<f64>, config: &Config) -> Result<StandardScaler> {
        let s = Samples::of(x)?;
        let axis0 = ReduceOptions::axes([0]);
        let (mean, var, bad) =
            config.compute((&x.mean_axis(0)?, &x.var_with(&axis0, 0.0)?, &check_fit(x)))?;
        s.finite(bad)?;
        let var: Vec<f64> = var.iter().copied().collect();
        let mean: Vec<f64> = mean.iter().copied().collect();
        // A feature is constant when its variance is no more than rounding could make of one
        // value (scikit-learn's `_is_constant_feature`).
        let n = s.rows as f64;
        let constant = |v: f64, m: f64| v <= n * f64::EPSILON * v + (n * m * f64::EPSILON).powi(2);
        let scale = var
            .iter()
            .zip(&mean)
            .map(|(&v, &m)| if constant(v, m) { 1.0 } else { v.sqrt() })
            .collect();
        Ok(StandardScaler {
            mean,
            var,
            scale,
            n_samples: s.rows,
        })
    }

    /// `(x - mean) / scale`, lazily.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `x` has another number of features than the fit saw.
    pub fn transform(&self, x: &Array<f64>) -> Result<Array<f64>> {
        let mean = columns(x, &self.mean, "StandardScaler")?;
        let scale = columns(x, &self.scale, "StandardScaler")?;
        Ok(&(x - &mean) / &scale)
    }

    /// `x * scale + mean`, lazily: the inverse of [`StandardScaler::transform`].
    ///
    /// # Errors
    /// As [`StandardScaler::transform`].
    pub fn inverse_transform(&self, x: &Array<f64>) -> Result<Array<f64>> {
        let mean = columns(x, &self.mean, "StandardScaler")?;
        let scale = columns(x, &self.scale, "StandardScaler")?;
        Ok(&(x * &scale) + &mean)
    }
}

/// Maps each feature linearly onto `range` (default `[0, 1]`), as scikit-learn's
/// `MinMaxScaler`; a constant feature is mapped to `range.0`.
#[derive(Debug, Clone, PartialEq)]
pub struct MinMaxScaler {
    /// The smallest value of each feature.
    pub data_min: Vec<f64>,
    /// The largest value of each feature.
    pub data_max: Vec<f64>,
    /// What each feature is multiplied by.
    pub scale: Vec<f64>,
    /// What is added after.
    pub min: Vec<f64>,
    /// The target range.
    pub range: (f64, f64),
}

impl MinMaxScaler {
    /// Fits on `x` onto `[0, 1]` on the default configuration.
    ///
    /// # Errors
    /// As [`MinMaxScaler::fit_with`].
    pub fn fit(x: &Array<f64>) -> Result<MinMaxScaler> {
        Self::fit_with(x, (0.0, 1.0), &Config::default())
    }

    /// Fits on `x` (samples x features) onto `range`, computed under `config`.
    ///
    /// # Errors
    /// As [`StandardScaler::fit_with`]; [`Error::InvalidArgument`] for a range whose start is
    /// not below its end.
    pub fn fit_with(x: &Array<f64>, range: (f64, f64), config: &Config) -> Result<MinMaxScaler> {
        // NaN compares false either way: reject it with the rest.
        if range.0.partial_cmp(&range.1) != Some(std::cmp::Ordering::Less) {
            return Err(Error::InvalidArgument(format!(
                "MinMaxScaler: the feature range ({}, {}) must have its start below its end",
                range.0, range.1
            )));
        }
        let s = Samples::of(x)?;
        let axis0 = ReduceOptions::axes([0]);
        let (lo, hi, bad) = config.compute((
            &x.nanmin_with(&axis0)?,
            &x.nanmax_with(&axis0)?,
            &check_fit(x),
        ))?;
        s.finite(bad)?;
        let data_min: Vec<f64> = lo.iter().copied().collect();
        let data_max: Vec<f64> = hi.iter().copied().collect();
        let scale: Vec<f64> = data_min
            .iter()
            .zip(&data_max)
            .map(|(&a, &b)| (range.1 - range.0) / if b - a == 0.0 { 1.0 } else { b - a })
            .collect();
        let min = data_min
            .iter()
            .zip(&scale)
            .map(|(&a, &s)| range.0 - a * s)
            .collect();
        Ok(MinMaxScaler {
            data_min,
            data_max,
            scale,
            min,
            range,
        })
    }

    /// `x * scale + min`, lazily.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `x` has another number of features than the fit saw.
    pub fn transform(&self, x: &Array<f64>) -> Result<Array<f64>> {
        let scale = columns(x, &self.scale, "MinMaxScaler")?;
        let min = columns(x, &self.min, "MinMaxScaler")?;
        Ok(&(x * &scale) + &min)
    }
}
